//! The Environment Abstraction Layer: process-wide initialisation and lcore registration.
//!
//! `rte_eal_init` may run only once per process; [`init`] enforces that and keeps the
//! argument strings alive for the life of the process (EAL may keep pointers into them).

use crate::error::{Error, Result};
use crate::raw;
use std::ffi::{c_char, c_int, CString};
use std::sync::Mutex;

/// Proof that the EAL is initialised; needed by everything that touches DPDK objects.
#[derive(Clone, Copy, Debug)]
pub struct Eal {
    _private: (),
}

static INIT: Mutex<Option<Eal>> = Mutex::new(None);

/// Initialise the EAL with `args` (without argv\[0\]; "skylane" is prepended).
/// A second call returns an error instead of calling `rte_eal_init` again.
pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal> {
    let mut guard = INIT
        .lock()
        .map_err(|_| Error::Invalid("EAL init lock poisoned".into()))?;
    if guard.is_some() {
        return Err(Error::Invalid(
            "the DPDK EAL is already initialised in this process (it can only be initialised once)"
                .into(),
        ));
    }
    let mut owned = Vec::with_capacity(args.len() + 1);
    owned.push(CString::new("skylane").expect("no NUL"));
    for a in args {
        let a = a.as_ref();
        owned.push(
            CString::new(a)
                .map_err(|_| Error::Invalid(format!("EAL argument contains NUL: {a:?}")))?,
        );
    }
    // EAL keeps pointers into argv for some options: leak them (once per process).
    let owned: &'static [CString] = Vec::leak(owned);
    let argv: &'static mut [*mut c_char] =
        Vec::leak(owned.iter().map(|c| c.as_ptr() as *mut c_char).collect());
    // SAFETY: argv holds argc valid NUL-terminated strings that live for the whole process;
    // the mutex guarantees rte_eal_init runs at most once.
    let ret = unsafe { raw::rte_eal_init(argv.len() as c_int, argv.as_mut_ptr()) };
    if ret < 0 {
        return Err(Error::from_rte_errno("rte_eal_init"));
    }
    let eal = Eal { _private: () };
    *guard = Some(eal);
    Ok(eal)
}

/// The EAL if [`init`] succeeded earlier in this process.
pub fn get() -> Option<Eal> {
    INIT.lock().ok().and_then(|g| *g)
}

impl Eal {
    /// Register the calling (non-EAL) thread as an lcore so it gets an lcore id and the
    /// per-lcore mempool caches. Returns the lcore id.
    pub fn register_thread(&self) -> Result<u32> {
        // SAFETY: EAL is initialised (we hold an `Eal`); registering the current thread has
        // no other precondition.
        let ret = unsafe { raw::rte_thread_register() };
        if ret < 0 {
            return Err(Error::from_rte_errno("rte_thread_register"));
        }
        Ok(lcore_id())
    }

    /// Undo [`Eal::register_thread`] for the calling thread.
    pub fn unregister_thread(&self) {
        // SAFETY: EAL is initialised; unregistering an unregistered thread is a no-op.
        unsafe { raw::rte_thread_unregister() }
    }

    /// Release EAL resources (hugepage files, telemetry socket). Call once, at exit,
    /// after every port is closed and every data-plane thread has stopped.
    pub fn cleanup(&self) -> Result<()> {
        // SAFETY: EAL is initialised; caller contract above.
        Error::check("rte_eal_cleanup", unsafe { raw::rte_eal_cleanup() }).map(|_| ())
    }

    /// Create a virtual device at run time (e.g. `("net_tap0", "iface=sky0")`).
    pub fn vdev_init(&self, name: &str, args: &str) -> Result<()> {
        let n = CString::new(name).map_err(|_| Error::Invalid("vdev name has NUL".into()))?;
        let a = CString::new(args).map_err(|_| Error::Invalid("vdev args have NUL".into()))?;
        // SAFETY: both strings are valid for the call; DPDK copies them.
        let ret = unsafe { raw::rte_vdev_init(n.as_ptr(), a.as_ptr()) };
        Error::check("rte_vdev_init", ret).map(|_| ())
    }

    /// Destroy a virtual device created with [`Eal::vdev_init`] (its port must be closed).
    pub fn vdev_uninit(&self, name: &str) -> Result<()> {
        let n = CString::new(name).map_err(|_| Error::Invalid("vdev name has NUL".into()))?;
        // SAFETY: valid string for the call.
        let ret = unsafe { raw::rte_vdev_uninit(n.as_ptr()) };
        Error::check("rte_vdev_uninit", ret).map(|_| ())
    }

    /// TSC frequency in Hz.
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: EAL is initialised (the TSC frequency is measured during init).
        unsafe { raw::rte_get_tsc_hz() }
    }

    /// Number of lcores the EAL knows (main + workers + registered threads).
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: reads EAL config; EAL is initialised.
        unsafe { raw::rte_lcore_count() }
    }
}

/// The calling thread's lcore id (`u32::MAX` = LCORE_ID_ANY for unregistered threads).
pub fn lcore_id() -> u32 {
    // SAFETY: reads a thread-local variable; valid on any thread.
    unsafe { raw::rte_lcore_id() }
}

/// The calling thread's NUMA socket as EAL sees it.
pub fn socket_id() -> i32 {
    // SAFETY: reads a thread-local variable; valid on any thread.
    unsafe { raw::rte_socket_id() as i32 }
}

/// Read the time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: the rdtsc instruction has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Pin the calling thread to CPU `cpu` (for threads that are not EAL lcores yet; call
/// before [`Eal::register_thread`], which records the thread's affinity).
pub fn pin_current_thread(cpu: usize) -> Result<()> {
    set_thread_affinity(0, &[cpu])
}

/// The kernel id of the calling thread (`gettid`).
pub fn current_tid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// Restrict thread `tid` of this process (0: the calling thread) to the CPUs `cpus`.
pub fn set_thread_affinity(tid: i32, cpus: &[usize]) -> Result<()> {
    if cpus.is_empty() {
        return Err(Error::Invalid("an empty CPU set".into()));
    }
    if let Some(cpu) = cpus.iter().find(|&&c| c >= libc::CPU_SETSIZE as usize) {
        return Err(Error::Invalid(format!("CPU {cpu} is out of range")));
    }
    // SAFETY: cpu_set_t is plain data (all-zero is the empty set); CPU_SET stays in bounds
    // (checked above); sched_setaffinity only reads the set.
    let ret = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if ret != 0 {
        return Err(Error::from_errno(
            "sched_setaffinity",
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    Ok(())
}

/// The CPUs the calling thread may run on (its affinity mask), ascending.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most its size into it;
    // CPU_ISSET reads within bounds.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// `--lcores` value mapping lcore 0 (the thread calling `rte_eal_init`) onto every CPU
/// in `cpus`, so EAL does not pin that thread to a single CPU: `0@(0,1,2)`.
pub fn floating_main_lcore(cpus: &[usize]) -> String {
    let list: Vec<String> = cpus.iter().map(|c| c.to_string()).collect();
    format!("--lcores=0@({})", list.join(","))
}

/// Whether EAL arguments choose lcores themselves (`-l`, `-c`, `--lcores`).
pub fn chooses_lcores<S: AsRef<str>>(args: &[S]) -> bool {
    args.iter().any(|a| {
        let a = a.as_ref();
        a == "-l"
            || a == "-c"
            || a.starts_with("--lcores")
            || (a.starts_with("-l") && a.len() > 2)
            || (a.starts_with("-c") && a.len() > 2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_affinity_by_tid() {
        let before = allowed_cpus();
        assert!(!before.is_empty());
        // Narrow this thread to its first allowed CPU through its tid, then restore.
        set_thread_affinity(current_tid(), &before[..1]).unwrap();
        assert_eq!(allowed_cpus(), before[..1].to_vec());
        set_thread_affinity(0, &before).unwrap();
        assert_eq!(allowed_cpus(), before);
        assert!(set_thread_affinity(0, &[]).is_err());
        assert!(set_thread_affinity(0, &[libc::CPU_SETSIZE as usize]).is_err());
    }
}
