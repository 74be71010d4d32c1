// SPDX-License-Identifier: GPL-2.0
//
// rule: an attach hook sees the core's attach done and cannot fail it
// expect: error[E0053]
// expect: method `attach_ioas` has an incompatible type for trait
//
// The hook returns an error for an attach the core has made: the device would be attached
// while the driver thinks it is not, and its detach hook would not be paired with it. The hook
// gets the core's result and returns nothing.

use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: AttachHookFails,
    name: "attach_hook_fails",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct AttachHookFails;

impl kernel::Module for AttachHookFails {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for AttachHookFails {
    type Data = ();
    type Iommu = vfio::Physical;
    type OpenData = ();
    const NAME: &'static CStr = c"attach-hook-fails";
    fn attach_ioas(_dev: &vfio::Locked<'_, Self>, attached: Result<u32>) -> Result {
        attached.and(Err(EBUSY))
    }

    fn detach_ioas(_dev: &vfio::Locked<'_, Self>) {}
}

impl TestDriver for AttachHookFails {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        TestDevice::new_mock(group_peer, ())
    }
}

kernel::vfio_test_factory!(
    AttachHookFails,
    attach_hook_fails_create,
    attach_hook_fails_destroy,
    attach_hook_fails_unmaps
);
