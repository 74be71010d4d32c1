// SPDX-License-Identifier: GPL-2.0
//
// rule: a registration cannot be kept where the device's callbacks reach it
// expect: error[E0597]
// expect: `parent` does not live long enough
//
// The registration is kept in a device's data, where a callback could take and drop it:
// unregistering waits until user space has closed the device, which it cannot do while that
// callback runs. A registration borrows its parent, and the data, like a static, only holds
// what lives for 'static.

use kernel::{
    faux, new_mutex,
    prelude::*,
    sync::Mutex,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: RegistrationInOwnData,
    name: "registration_in_own_data",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct RegistrationInOwnData;

impl kernel::Module for RegistrationInOwnData {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for RegistrationInOwnData {
    type Data = Mutex<Option<vfio::Registration<'static, Self>>>;
    type Iommu = vfio::Emulated;
    type OpenData = ();
    const NAME: &'static CStr = c"registration-in-own-data";
}

impl TestDriver for RegistrationInOwnData {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        if group_peer.is_some() {
            return Err(EINVAL);
        }
        let parent = faux::Registration::new(c"registration-in-own-data", None)?;
        let reg = vfio::Registration::<Self>::new(parent.as_ref().as_ref(), new_mutex!(None))?;
        let dev = TestDevice::<Self>::new_faux(new_mutex!(None))?;
        *dev.device().data().lock() = Some(reg);
        Ok(dev)
    }
}

kernel::vfio_test_factory!(
    RegistrationInOwnData,
    registration_in_own_data_create,
    registration_in_own_data_destroy,
    registration_in_own_data_unmaps
);
