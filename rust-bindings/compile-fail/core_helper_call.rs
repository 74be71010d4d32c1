// SPDX-License-Identifier: GPL-2.0
//
// rule: a driver cannot call the VFIO core iommufd helpers itself
// expect: error[E0599]
// expect: named `attach_ioas` found for enum `Physical`
//
// A hook that calls the core attach itself, which would attach the device twice or in a state
// the core does not expect: the abstraction calls the helpers, and they are not callable from
// Rust.

use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: CoreHelperCall,
    name: "core_helper_call",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct CoreHelperCall;

impl kernel::Module for CoreHelperCall {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for CoreHelperCall {
    type Data = ();
    type Iommu = vfio::Physical;
    type OpenData = ();
    const NAME: &'static CStr = c"core-helper-call";
    fn attach_ioas(dev: &vfio::Locked<'_, Self>, attached: Result<u32>) {
        if let Ok(pt_id) = attached {
            let _ = vfio::Physical::attach_ioas(dev, pt_id);
        }
    }

    fn detach_ioas(_dev: &vfio::Locked<'_, Self>) {}
}

impl TestDriver for CoreHelperCall {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        TestDevice::new_mock(group_peer, ())
    }
}

kernel::vfio_test_factory!(
    CoreHelperCall,
    core_helper_call_create,
    core_helper_call_destroy,
    core_helper_call_unmaps
);
