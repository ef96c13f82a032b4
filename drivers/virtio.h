/*
 * Virtio 1.x definitions shared by Tern's virtio drivers (host NICs) and its virtio device
 * models (guests): PCI capabilities, the common configuration layout, status and feature
 * bits, and the split virtqueue layout (virtio v1.2 sections 2.1, 2.7, 4.1, 5.1).
 */
#ifndef TERN_VIRTIO_H
#define TERN_VIRTIO_H

#include "kernel/compiler.h"

#define VIRTIO_PCI_VENDOR     0x1af4
#define VIRTIO_PCI_MODERN_DEV 0x1040 /* + device type */
#define VIRTIO_ID_NET         1
#define VIRTIO_ID_BLOCK       2
#define VIRTIO_ID_CONSOLE     3

/* Device status (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

/* Reserved feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC   28
#define VIRTIO_F_EVENT_IDX       29
#define VIRTIO_F_VERSION_1       32
#define VIRTIO_F_ACCESS_PLATFORM 33

/* PCI vendor-specific capability cfg_type values (4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5

/* Common configuration structure offsets (4.1.4.3). */
#define VIRTIO_CC_DFSELECT     0x00
#define VIRTIO_CC_DF           0x04
#define VIRTIO_CC_GFSELECT     0x08
#define VIRTIO_CC_GF           0x0c
#define VIRTIO_CC_MSIX_CONFIG  0x10
#define VIRTIO_CC_NUM_QUEUES   0x12
#define VIRTIO_CC_STATUS       0x14
#define VIRTIO_CC_CFG_GEN      0x15
#define VIRTIO_CC_Q_SELECT     0x16
#define VIRTIO_CC_Q_SIZE       0x18
#define VIRTIO_CC_Q_MSIX       0x1a
#define VIRTIO_CC_Q_ENABLE     0x1c
#define VIRTIO_CC_Q_NOTIFY_OFF 0x1e
#define VIRTIO_CC_Q_DESC       0x20
#define VIRTIO_CC_Q_DRIVER     0x28
#define VIRTIO_CC_Q_DEVICE     0x30
#define VIRTIO_CC_SIZE         0x38
#define VIRTIO_MSI_NO_VECTOR   0xffff

/* Split virtqueue (2.7). */
#define VIRTQ_DESC_F_NEXT          1
#define VIRTQ_DESC_F_WRITE         2
#define VIRTQ_DESC_F_INDIRECT      4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __packed;

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
} __packed;

/* virtio-net (5.1). */
#define VIRTIO_NET_F_CSUM       0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU        3 /* config mtu: the largest MTU the device carries */
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16
#define VIRTIO_NET_S_LINK_UP    1
/* struct virtio_net_config offsets (5.1.4): mac[6], status, max_virtqueue_pairs, mtu */
#define VIRTIO_NET_CFG_STATUS 6
#define VIRTIO_NET_CFG_MTU    10

/* The header in front of every packet when VIRTIO_F_VERSION_1 is negotiated (5.1.6). */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __packed;

#endif
