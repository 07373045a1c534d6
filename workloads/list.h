/* SPDX-License-Identifier: MIT */
/* The workload catalogue, one line per workload file. Included by registry.c (for the guest and
 * pvb-linux) and by the harness (for names only). */
PVB_WORKLOAD(cyclic)
PVB_WORKLOAD(fault)
PVB_WORKLOAD(hang)
PVB_WORKLOAD(channel)
PVB_WORKLOAD(memtouch)
PVB_WORKLOAD(audioloop)
PVB_WORKLOAD(frameloop)
PVB_WORKLOAD(burst)
PVB_WORKLOAD(infer)
PVB_WORKLOAD(dirtier)
PVB_WORKLOAD(iopath)
PVB_WORKLOAD(lockhold)
