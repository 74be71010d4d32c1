// SPDX-License-Identifier: GPL-2.0
//
// rule: an Open device stays on the thread of the read or write call
// expect: error[E0277]
// expect: cannot be shared between threads safely
// expect: Open
//
// The Open device of a read handed to code that may run it on another thread, after the call
// returned and the device may be closed.

use kernel::{
    prelude::*,
    uaccess::UserSliceWriter,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: OpenToThread,
    name: "open_to_thread",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct OpenToThread;

impl kernel::Module for OpenToThread {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

/// Stands for anything that runs its argument on another thread.
fn to_another_thread<T: Send>(_t: T) {}

#[vtable]
impl vfio::DeviceOps for OpenToThread {
    type Data = ();
    type Iommu = vfio::Physical;
    type OpenData = ();
    const NAME: &'static CStr = c"open-to-thread";
    fn read(dev: &vfio::Open<'_, Self>, _buf: UserSliceWriter, _offset: u64) -> Result<usize> {
        to_another_thread(dev);
        Ok(0)
    }
}

impl TestDriver for OpenToThread {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        TestDevice::new_mock(group_peer, ())
    }
}

kernel::vfio_test_factory!(
    OpenToThread,
    open_to_thread_create,
    open_to_thread_destroy,
    open_to_thread_unmaps
);
