//! Flag constants DPDK defines with `RTE_BIT64(n)` (bindgen cannot evaluate those macros).
//! Values from DPDK 22.11 `rte_ethdev.h` and `rte_mbuf_core.h`.

/// `RTE_ETH_RSS_IPV4`.
pub const RTE_ETH_RSS_IPV4: u64 = 1 << 2;
/// `RTE_ETH_RSS_FRAG_IPV4`.
pub const RTE_ETH_RSS_FRAG_IPV4: u64 = 1 << 3;
/// `RTE_ETH_RSS_NONFRAG_IPV4_UDP`.
pub const RTE_ETH_RSS_NONFRAG_IPV4_UDP: u64 = 1 << 5;
/// `RTE_ETH_RSS_NONFRAG_IPV4_OTHER`.
pub const RTE_ETH_RSS_NONFRAG_IPV4_OTHER: u64 = 1 << 7;
/// `RTE_ETH_RSS_IPV6`.
pub const RTE_ETH_RSS_IPV6: u64 = 1 << 8;
/// `RTE_ETH_RSS_FRAG_IPV6`.
pub const RTE_ETH_RSS_FRAG_IPV6: u64 = 1 << 9;
/// `RTE_ETH_RSS_NONFRAG_IPV6_UDP`.
pub const RTE_ETH_RSS_NONFRAG_IPV6_UDP: u64 = 1 << 11;
/// `RTE_ETH_RSS_NONFRAG_IPV6_OTHER`.
pub const RTE_ETH_RSS_NONFRAG_IPV6_OTHER: u64 = 1 << 13;
/// `RTE_ETH_RSS_IPV6_EX`.
pub const RTE_ETH_RSS_IPV6_EX: u64 = 1 << 15;
/// `RTE_ETH_RSS_IPV6_UDP_EX`.
pub const RTE_ETH_RSS_IPV6_UDP_EX: u64 = 1 << 17;
/// `RTE_ETH_RSS_IP`.
pub const RTE_ETH_RSS_IP: u64 = RTE_ETH_RSS_IPV4
    | RTE_ETH_RSS_FRAG_IPV4
    | RTE_ETH_RSS_NONFRAG_IPV4_OTHER
    | RTE_ETH_RSS_IPV6
    | RTE_ETH_RSS_FRAG_IPV6
    | RTE_ETH_RSS_NONFRAG_IPV6_OTHER
    | RTE_ETH_RSS_IPV6_EX;
/// `RTE_ETH_RSS_UDP`.
pub const RTE_ETH_RSS_UDP: u64 =
    RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV6_UDP | RTE_ETH_RSS_IPV6_UDP_EX;

/// `RTE_ETH_RX_OFFLOAD_IPV4_CKSUM`.
pub const RTE_ETH_RX_OFFLOAD_IPV4_CKSUM: u64 = 1 << 1;
/// `RTE_ETH_RX_OFFLOAD_UDP_CKSUM`.
pub const RTE_ETH_RX_OFFLOAD_UDP_CKSUM: u64 = 1 << 2;
/// `RTE_ETH_TX_OFFLOAD_IPV4_CKSUM`.
pub const RTE_ETH_TX_OFFLOAD_IPV4_CKSUM: u64 = 1 << 1;
/// `RTE_ETH_TX_OFFLOAD_UDP_CKSUM`.
pub const RTE_ETH_TX_OFFLOAD_UDP_CKSUM: u64 = 1 << 2;
/// `RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE`.
pub const RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE: u64 = 1 << 16;

/// `RTE_MBUF_F_RX_L4_CKSUM_BAD`.
pub const RTE_MBUF_F_RX_L4_CKSUM_BAD: u64 = 1 << 3;
/// `RTE_MBUF_F_RX_IP_CKSUM_BAD`.
pub const RTE_MBUF_F_RX_IP_CKSUM_BAD: u64 = 1 << 4;
/// `RTE_MBUF_F_TX_UDP_CKSUM`.
pub const RTE_MBUF_F_TX_UDP_CKSUM: u64 = 3 << 52;
/// `RTE_MBUF_F_TX_IP_CKSUM`.
pub const RTE_MBUF_F_TX_IP_CKSUM: u64 = 1 << 54;
/// `RTE_MBUF_F_TX_IPV4`.
pub const RTE_MBUF_F_TX_IPV4: u64 = 1 << 55;
/// `RTE_MBUF_F_TX_IPV6`.
pub const RTE_MBUF_F_TX_IPV6: u64 = 1 << 56;

/// `RTE_ETH_MQ_RX_RSS` (enum rte_eth_rx_mq_mode).
pub const RTE_ETH_MQ_RX_RSS: u32 = 1;
/// `RTE_MBUF_DEFAULT_BUF_SIZE` (2048 data room + 128 headroom).
pub const RTE_MBUF_DEFAULT_BUF_SIZE: u16 = 2048 + 128;

/// `RTE_MBUF_F_RX_IP_CKSUM_MASK` (the value `RTE_MBUF_F_RX_IP_CKSUM_BAD` means "wrong").
pub const RTE_MBUF_F_RX_IP_CKSUM_MASK: u64 = (1 << 4) | (1 << 7);
/// `RTE_MBUF_F_RX_L4_CKSUM_MASK` (the value `RTE_MBUF_F_RX_L4_CKSUM_BAD` means "wrong").
pub const RTE_MBUF_F_RX_L4_CKSUM_MASK: u64 = (1 << 3) | (1 << 8);
