// SPDX-License-Identifier: GPL-2.0
//
// rule: the open data is only reached through an Open device
// expect: error[E0599]
// expect: no method named `open_data` found
//
// A hook that runs without the device open, here a request to close it while unregistering,
// reads the state of an open that may not exist: its open data is only made while user space
// has the device open, so only an Open device gives it.

use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: OpenDataWithoutOpen,
    name: "open_data_without_open",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct OpenDataWithoutOpen;

impl kernel::Module for OpenDataWithoutOpen {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

struct Opened(u32);

impl vfio::PerOpen<OpenDataWithoutOpen> for Opened {
    fn open(_dev: &vfio::Device<OpenDataWithoutOpen>) -> impl PinInit<Self, Error> {
        Ok(Opened(1))
    }
}

#[vtable]
impl vfio::DeviceOps for OpenDataWithoutOpen {
    type Data = ();
    type Iommu = vfio::Emulated;
    type OpenData = Opened;
    const NAME: &'static CStr = c"open-data-without-open";

    fn request(dev: &vfio::Device<Self>, _count: u32) {
        pr_info!("{}\n", dev.open_data().0);
    }
}

impl TestDriver for OpenDataWithoutOpen {
    fn create(_group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        TestDevice::new_faux(())
    }
}

kernel::vfio_test_factory!(
    OpenDataWithoutOpen,
    open_data_without_open_create,
    open_data_without_open_destroy,
    open_data_without_open_unmaps
);
