//! Small scoped-thread helpers for the bulk build: per-shard work spread
//! over up to 8 threads (`available_parallelism`), results kept in order.
//! A panic in a worker is re-raised in the caller.

use super::shard::{Shard, SHARD_COUNT};

/// Runs `f` for every shard index on up to 8 threads; results in shard order.
pub(crate) fn parallel_by_shard<T: Send>(f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = thread_count();
    if threads == 1 {
        return (0..SHARD_COUNT).map(f).collect();
    }
    let per = SHARD_COUNT.div_ceil(threads);
    let f = &f;
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                sc.spawn(move || {
                    (t * per..((t + 1) * per).min(SHARD_COUNT))
                        .map(f)
                        .collect::<Vec<T>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(joined).collect()
    })
}

/// Runs `f` on every element of `items` on up to 8 threads; results in order.
pub(crate) fn parallel_each_mut<T: Send, R: Send>(
    items: &mut [T],
    f: impl Fn(&mut T) -> R + Sync,
) -> Vec<R> {
    let per = items.len().div_ceil(thread_count()).max(1);
    let f = &f;
    std::thread::scope(|sc| {
        let handles: Vec<_> = items
            .chunks_mut(per)
            .map(|part| sc.spawn(move || part.iter_mut().map(f).collect::<Vec<R>>()))
            .collect();
        handles.into_iter().flat_map(joined).collect()
    })
}

/// Indexes every arena into a shard, on up to 8 threads.
pub(crate) fn parallel_shards(mut arenas: Vec<Vec<u8>>) -> Vec<Shard> {
    let per = SHARD_COUNT.div_ceil(thread_count());
    let mut parts = Vec::new();
    while !arenas.is_empty() {
        let rest = arenas.split_off(per.min(arenas.len()));
        parts.push(std::mem::replace(&mut arenas, rest));
    }
    std::thread::scope(|sc| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                sc.spawn(move || part.into_iter().map(Shard::from_arena).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(joined).collect()
    })
}

/// Runs `f` on up to 8 consecutive parts of `items`, one thread each; results in order.
pub(crate) fn parallel_parts<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let per = items.len().div_ceil(thread_count()).max(1);
    let f = &f;
    std::thread::scope(|sc| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|part| sc.spawn(move || f(part)))
            .collect();
        handles.into_iter().map(joined).collect()
    })
}

/// A worker's result; its panic is re-raised in the caller.
fn joined<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Threads the helpers use: the CPUs available, at most 8.
pub(crate) fn thread_count() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
}
