Fixes for 6.12.y found running iommufd and VFIO tests
Three fixes for 6.12.y only, found running iommufd's selftests and the
VFIO iommufd tests on 6.12.117, under UML and on x86_64 guests of QEMU.
Mainline does not need them in this form; each patch says why:

  1: UML on hosts whose XSTATE is larger than UML's FP buffer (AMX, as on
     Sapphire Rapids) kills its init when restoring the FP state. Mainline
     replaced the code with an FP area sized at run time (3f17fed21491),
     too large a change for a stable fix.
  2: iommufd's selftests no longer build on 6.12.y: two selftest changes
     taken as prerequisites of a backport use uAPI 6.12 does not have.
  3: virtio-iommu sets a domain's page sizes and aperture only at its
     first attach, but iommufd reads them before: IOMMU_HWPT_ALLOC gives
     an HWPT without IOVA space, and a replace onto an IOAS with mappings
     fails with -EADDRINUSE. Mainline allocates paging domains for a
     device through domain_alloc_paging; the patch adds that op for the
     paging domains iommufd allocates.

Each was tested on 6.12.117 (Debian's linux-source-6.12): 1 under UML on
a host with AMX, 2 by building and running iommufd and iommufd_fail_nth,
3 with vfio-pci and QEMU's edu device behind virtio-iommu, whose DMA shows
that an HWPT of its own and a replace work.
