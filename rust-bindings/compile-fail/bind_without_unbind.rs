// SPDX-License-Identifier: GPL-2.0
//
// rule: a vfio::DeviceOps that overrides bind_iommufd must override unbind_iommufd
// expect: error[E0080]
// expect: a vfio::DeviceOps that overrides bind_iommufd must override unbind_iommufd
//
// A hook on bind_iommufd without one on unbind_iommufd, on an emulated driver.

use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: BindWithoutUnbind,
    name: "bind_without_unbind",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct BindWithoutUnbind;

impl kernel::Module for BindWithoutUnbind {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for BindWithoutUnbind {
    type Data = ();
    type Iommu = vfio::Emulated;
    type OpenData = ();
    const NAME: &'static CStr = c"bind-without-unbind";
    fn bind_iommufd(_dev: &vfio::Locked<'_, Self>, _device_id: u32) -> Result {
        Ok(())
    }
}

impl TestDriver for BindWithoutUnbind {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        let _ = group_peer;
        TestDevice::new_faux(())
    }
}

kernel::vfio_test_factory!(
    BindWithoutUnbind,
    bind_without_unbind_create,
    bind_without_unbind_destroy,
    bind_without_unbind_unmaps
);
