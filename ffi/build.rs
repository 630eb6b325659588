//! Build script: find DPDK with pkg-config, generate bindings with bindgen (including C
//! wrappers for `static inline` functions such as `rte_eth_rx_burst`), and compile those
//! wrappers plus `csrc/skylane_helpers.c` with `cc`.

use std::env;
use std::path::PathBuf;

/// Function families bound. Keep this list tight: rte_ethdev.h alone is huge.
const FUNCTIONS: &str = "rte_(eal_.*|exit|strerror|lcore_.*|get_main_lcore|get_next_lcore|socket_id|socket_count|\
socket_id_by_idx|get_tsc_hz|get_timer_hz|rdtsc|rdtsc_precise|get_tsc_cycles|delay_us_block|pause|\
prefetch[0-2]|prefetch_non_temporal|mempool_.*|pktmbuf_.*|mbuf_.*|eth_.*|ether_.*|vdev_.*|dev_probe|dev_remove|\
remote_launch|thread_register|thread_unregister|eal_mp_.*|eal_wait_lcore|eal_remote_launch)|skylane_.*";

fn main() {
    println!("cargo:rerun-if-changed=csrc/wrapper.h");
    println!("cargo:rerun-if-changed=csrc/skylane_helpers.h");
    println!("cargo:rerun-if-changed=csrc/skylane_helpers.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let dpdk = pkg_config::Config::new()
        .atleast_version("21.11")
        .probe("libdpdk")
        .unwrap_or_else(|e| {
            panic!("dpdk-sys needs DPDK development files (Debian: apt install libdpdk-dev): {e}")
        });

    // rte_vdev_init/uninit live in the vdev bus driver, which libdpdk.pc does not list
    // (drivers are loaded as plugins at run time).
    println!("cargo:rustc-link-lib=dylib=rte_bus_vdev");

    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let csrc = manifest.join("csrc");

    // Cflags pkg-config gives besides -I: `-include rte_config.h -march=corei7`.
    let mut clang_args: Vec<String> = dpdk
        .include_paths
        .iter()
        .map(|p| format!("-I{}", p.display()))
        .collect();
    clang_args.push(format!("-I{}", csrc.display()));
    clang_args.extend([
        "-include".into(),
        "rte_config.h".into(),
        "-march=corei7".into(),
    ]);
    clang_args.push("-DALLOW_EXPERIMENTAL_API".into());

    let static_fns = out.join("static_fns");
    let bindings = bindgen::Builder::default()
        .header(csrc.join("wrapper.h").display().to_string())
        .clang_args(&clang_args)
        .allowlist_function(FUNCTIONS)
        .allowlist_type("rte_(mbuf|mempool|eth_.*|ether_.*|lcore_.*)")
        .opaque_type("rte_(l2tpv2|gtp_psc|flow)_.*")
        .allowlist_var("RTE_.*")
        .wrap_static_fns(true)
        .wrap_static_fns_path(&static_fns)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen over DPDK headers");
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings.rs");

    let mut build = cc::Build::new();
    build
        .file(static_fns.with_extension("c"))
        .file(csrc.join("skylane_helpers.c"))
        .include(&csrc)
        .includes(&dpdk.include_paths)
        // The generated wrapper file includes wrapper.h by absolute path.
        .include(&manifest)
        .flag("-include")
        .flag("rte_config.h")
        .flag("-march=corei7")
        .define("ALLOW_EXPERIMENTAL_API", None)
        .opt_level(3)
        .warnings(false);
    build.compile("dpdk_sys_wrappers");
}
