// SPDX-License-Identifier: GPL-2.0
//
// rule: whether a device is attached is read under dev_set->lock only
// expect: error[E0599]
// expect: no method named `iommufd_attached` found
//
// dma_unmap runs without dev_set->lock, so it cannot read the attached flag, which shares a byte
// with others that change under that lock.

use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: AttachedWithoutLock,
    name: "attached_without_lock",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct AttachedWithoutLock;

impl kernel::Module for AttachedWithoutLock {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for AttachedWithoutLock {
    type Data = ();
    type Iommu = vfio::Emulated;
    type OpenData = ();
    const NAME: &'static CStr = c"attached-without-lock";
    fn dma_unmap(dev: &vfio::Device<Self>, _iova: u64, _length: u64) {
        let _ = dev.iommufd_attached();
    }
}

impl TestDriver for AttachedWithoutLock {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        let _ = group_peer;
        TestDevice::new_faux(())
    }
}

kernel::vfio_test_factory!(
    AttachedWithoutLock,
    attached_without_lock_create,
    attached_without_lock_destroy,
    attached_without_lock_unmaps
);
