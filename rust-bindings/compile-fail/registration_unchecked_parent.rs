// SPDX-License-Identifier: GPL-2.0
//
// rule: registering on a parent whose binding nobody guarantees needs unsafe
// expect: error[E0133]
// expect: call to unsafe function
//
// Registration::new on any device: opening the VFIO device uses the module of the parent's
// driver, so only code that knows the parent stays bound may call it, in an unsafe block that
// says why.

use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: RegistrationUncheckedParent,
    name: "registration_unchecked_parent",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct RegistrationUncheckedParent;

impl kernel::Module for RegistrationUncheckedParent {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for RegistrationUncheckedParent {
    type Data = ();
    type Iommu = vfio::Physical;
    const NAME: &'static CStr = c"registration-unchecked-parent";
    fn open_device(dev: &vfio::Device<Self>) -> Result {
        let _reg = vfio::Registration::<Self>::new(dev.parent(), ())?;
        Ok(())
    }
}

impl TestDriver for RegistrationUncheckedParent {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        TestDevice::new_mock(group_peer, ())
    }
}

kernel::vfio_test_factory!(
    RegistrationUncheckedParent,
    registration_unchecked_parent_create,
    registration_unchecked_parent_destroy,
    registration_unchecked_parent_unmaps
);
