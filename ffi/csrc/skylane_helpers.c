/* See skylane_helpers.h. */
#include <rte_errno.h>
#include <rte_mbuf.h>
#include "skylane_helpers.h"

int skylane_rte_errno(void) { return rte_errno; }

void *skylane_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, void *); }

void skylane_mbuf_set_tx_lens(struct rte_mbuf *m, uint16_t l2, uint16_t l3, uint16_t l4)
{
	m->l2_len = l2;
	m->l3_len = l3;
	m->l4_len = l4;
}
