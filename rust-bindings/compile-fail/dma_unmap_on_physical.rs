// SPDX-License-Identifier: GPL-2.0
//
// rule: only an Emulated driver has a dma_unmap hook
// expect: error[E0080]
// expect: dma_unmap is only called for vfio::Emulated devices
//
// A physical device has no iommufd_access, so iommufd never calls its dma_unmap: a driver that
// relies on it would never unpin.

use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: DmaUnmapOnPhysical,
    name: "dma_unmap_on_physical",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct DmaUnmapOnPhysical;

impl kernel::Module for DmaUnmapOnPhysical {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for DmaUnmapOnPhysical {
    type Data = ();
    type Iommu = vfio::Physical;
    type OpenData = ();
    const NAME: &'static CStr = c"dma-unmap-on-physical";
    fn dma_unmap(_dev: &vfio::Device<Self>, _iova: u64, _length: u64) {}
}

impl TestDriver for DmaUnmapOnPhysical {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        TestDevice::new_mock(group_peer, ())
    }
}

kernel::vfio_test_factory!(
    DmaUnmapOnPhysical,
    dma_unmap_on_physical_create,
    dma_unmap_on_physical_destroy,
    dma_unmap_on_physical_unmaps
);
