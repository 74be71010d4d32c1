// SPDX-License-Identifier: GPL-2.0
//
// rule: a VFIO device registers on a parent bound to a driver
// expect: error[E0308]
// expect: expected `&Device<Bound>`, found `&Device`
//
// Registration::new on a device that may be unbound: opening the VFIO device uses the module of
// the parent's driver, and the registration ends when the parent is unbound, so the parent must
// be bound when it is made, as only a &Device<Bound> proves.

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
    type OpenData = ();
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
