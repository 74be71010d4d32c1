// SPDX-License-Identifier: GPL-2.0
//
// rule: DMA through the CPU is for Emulated drivers only
// expect: error[E0599]
// expect: read_pinned
//
// A physical device has no iommufd_access to pin pages through.

use kernel::{
    prelude::*,
    uaccess::UserSliceWriter,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: PinOnPhysical,
    name: "pin_on_physical",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct PinOnPhysical;

impl kernel::Module for PinOnPhysical {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for PinOnPhysical {
    type Data = ();
    type Iommu = vfio::Physical;
    type OpenData = ();
    const NAME: &'static CStr = c"pin-on-physical";
    fn read(dev: &vfio::Open<'_, Self>, _buf: UserSliceWriter, _offset: u64) -> Result<usize> {
        let mut byte = [0u8];
        dev.read_pinned(0, &mut byte)?;
        Ok(0)
    }
}

impl TestDriver for PinOnPhysical {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        TestDevice::new_mock(group_peer, ())
    }
}

kernel::vfio_test_factory!(
    PinOnPhysical,
    pin_on_physical_create,
    pin_on_physical_destroy,
    pin_on_physical_unmaps
);
