// SPDX-License-Identifier: GPL-2.0
//
// rule: a Locked device stays on the thread that holds dev_set->lock
// expect: error[E0277]
// expect: cannot be shared between threads safely
// expect: Locked
//
// The Locked device of a hook handed to code that may run it on another thread, which does not
// hold dev_set->lock.

use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: LockedToThread,
    name: "locked_to_thread",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct LockedToThread;

impl kernel::Module for LockedToThread {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

/// Stands for anything that runs its argument on another thread.
fn to_another_thread<T: Send>(_t: T) {}

#[vtable]
impl vfio::DeviceOps for LockedToThread {
    type Data = ();
    type Iommu = vfio::Physical;
    type OpenData = ();
    const NAME: &'static CStr = c"locked-to-thread";
    fn attach_ioas(dev: &vfio::Locked<'_, Self>, _attached: Result<u32>) {
        to_another_thread(dev);
    }

    fn detach_ioas(_dev: &vfio::Locked<'_, Self>) {}
}

impl TestDriver for LockedToThread {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        TestDevice::new_mock(group_peer, ())
    }
}

kernel::vfio_test_factory!(
    LockedToThread,
    locked_to_thread_create,
    locked_to_thread_destroy,
    locked_to_thread_unmaps
);
