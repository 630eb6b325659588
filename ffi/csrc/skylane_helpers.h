/* Small non-inline helpers for things bindgen cannot express (TLS variables, macros,
 * bit-fields inside anonymous unions). Implemented in skylane_helpers.c. */
#ifndef SKYLANE_DPDK_HELPERS_H
#define SKYLANE_DPDK_HELPERS_H
#include <stdint.h>
#include <rte_mbuf.h>

/* Current value of the per-lcore rte_errno. */
int skylane_rte_errno(void);
/* Pointer to the first data byte of a segment (rte_pktmbuf_mtod). */
void *skylane_pktmbuf_mtod(struct rte_mbuf *m);
/* Set l2_len / l3_len / l4_len of the tx_offload bit-fields. */
void skylane_mbuf_set_tx_lens(struct rte_mbuf *m, uint16_t l2, uint16_t l3, uint16_t l4);
#endif
