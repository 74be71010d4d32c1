// SPDX-License-Identifier: GPL-2.0
//
// rule: a vfio::DeviceOps that overrides attach_ioas must override detach_ioas
// expect: error[E0080]
// expect: a vfio::DeviceOps that overrides attach_ioas must override detach_ioas
//
// A hook on attach_ioas without one on detach_ioas: a driver that sets something up around
// attach would never undo it. The const assert of the ops table refuses it when the factory
// makes a device of the driver.

use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: AttachWithoutDetach,
    name: "attach_without_detach",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct AttachWithoutDetach;

impl kernel::Module for AttachWithoutDetach {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for AttachWithoutDetach {
    type Data = ();
    type Iommu = vfio::Physical;
    type OpenData = ();
    const NAME: &'static CStr = c"attach-without-detach";
    fn attach_ioas(_dev: &vfio::Locked<'_, Self>, _attached: Result<u32>) {}
}

impl TestDriver for AttachWithoutDetach {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        TestDevice::new_mock(group_peer, ())
    }
}

kernel::vfio_test_factory!(
    AttachWithoutDetach,
    attach_without_detach_create,
    attach_without_detach_destroy,
    attach_without_detach_unmaps
);
