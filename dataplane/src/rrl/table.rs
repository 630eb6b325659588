//! The per-core account table: fixed size, preallocated, set-associative, evicting.
//!
//! [`Table::debit`] finds the account for a key in its set of [`WAYS`] entries; a key
//! not there takes an empty way or evicts the way used longest ago. The table never
//! grows (kdns's never evicted), and nothing here allocates after [`Table::new`].

/// Entries per set.
pub const WAYS: usize = 8;

/// One account.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// 0 = empty (keys are never 0).
    key: u64,
    /// Responses left this second; negative = debt.
    balance: i32,
    /// Second of the last response.
    stamp: u32,
    /// Limited responses so far (the slip cadence).
    limited: u32,
}

/// The result of debiting an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Debit {
    /// Within the rate: send.
    Ok,
    /// Over the rate; `count` is the account's limited responses before this one.
    Limited { count: u32 },
}

/// A fixed number of accounts.
#[derive(Debug)]
pub struct Table {
    entries: Box<[Entry]>,
    /// Sets - 1 (sets are a power of two).
    mask: usize,
}

impl Table {
    /// A table of at least `entries` accounts (a power of two, at least one set).
    pub fn new(entries: usize) -> Table {
        let sets = (entries / WAYS).max(1).next_power_of_two();
        Table {
            entries: vec![Entry::default(); sets * WAYS].into_boxed_slice(),
            mask: sets - 1,
        }
    }

    /// Number of accounts it holds at most.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Accounts in use.
    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.key != 0).count()
    }

    /// True when no account is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every account.
    pub fn clear(&mut self) {
        self.entries.fill(Entry::default());
    }

    /// Whether `key` has an account.
    pub fn contains(&self, key: u64) -> bool {
        self.set(key).iter().any(|e| e.key == key.max(1))
    }

    fn set_range(&self, key: u64) -> std::ops::Range<usize> {
        // The high bits pick the set; the whole key identifies the account.
        let start = ((key >> 32) as usize & self.mask) * WAYS;
        start..start + WAYS
    }

    fn set(&self, key: u64) -> &[Entry] {
        self.entries.get(self.set_range(key)).unwrap_or_default()
    }

    /// Charges one response at second `now` to `key`'s account, `rate` per second with
    /// at most `window` seconds of debt (BIND's accounting, see the module docs of
    /// [`super`]).
    #[inline]
    pub fn debit(&mut self, key: u64, now: u32, rate: u32, window: u32) -> Debit {
        let key = key.max(1);
        let rate = i64::from(rate);
        let range = self.set_range(key);
        let Some(set) = self.entries.get_mut(range) else {
            return Debit::Ok;
        };
        let mut victim = 0;
        let mut found = None;
        for (i, e) in set.iter().enumerate() {
            if e.key == key {
                found = Some(i);
                break;
            }
            // An empty way wins; otherwise the one used longest ago.
            let v = &set[victim];
            if v.key != 0 && (e.key == 0 || e.stamp < v.stamp) {
                victim = i;
            }
        }
        let e = match found {
            Some(i) => &mut set[i],
            None => {
                let e = &mut set[victim];
                *e = Entry {
                    key,
                    balance: rate as i32,
                    stamp: now,
                    limited: 0,
                };
                e
            }
        };
        let age = now.saturating_sub(e.stamp);
        let mut balance = i64::from(e.balance);
        if age > window {
            balance = rate;
        } else if age > 0 {
            balance = (balance + rate * i64::from(age)).min(rate);
        }
        e.stamp = now;
        balance -= 1;
        if balance >= 0 {
            e.balance = balance as i32;
            e.limited = 0;
            return Debit::Ok;
        }
        let floor = -rate * i64::from(window);
        e.balance = balance.max(floor).max(i64::from(i32::MIN)) as i32;
        let count = e.limited;
        e.limited = e.limited.wrapping_add(1);
        Debit::Limited { count }
    }
}
