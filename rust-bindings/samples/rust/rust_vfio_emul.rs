// SPDX-License-Identifier: GPL-2.0

//! Rust VFIO sample driver for an emulated-IOMMU device.
//!
//! The Rust twin of `samples/vfio/vfio_sample_emul.c`: a device that reaches memory through
//! the CPU, registered as a [`vfio::Emulated`] device on a platform device of its own. The
//! iommufd callbacks are the VFIO core's helpers; its `dma_unmap` is where a real driver would
//! unpin what it pinned in the range, and records the call. The KUnit suite `vfio_iommufd`
//! makes its devices through the factory at the end.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{
    c_str, device,
    prelude::*,
    types::ARef,
    vfio,
    vfio::testing::{PlainDevice, TestDriver},
};

module! {
    type: RustVfioEmul,
    name: "rust_vfio_emul",
    author: "Rust for Linux Contributors",
    description: "Rust VFIO sample driver for an emulated-IOMMU device",
    license: "GPL",
}

struct RustVfioEmul;

impl kernel::Module for RustVfioEmul {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("Rust VFIO emulated sample driver\n");
        Ok(Self)
    }
}

/// The driver's data: its parent device, and the `dma_unmap` calls it received.
struct EmulData {
    _parent: PlainDevice,
    unmaps: AtomicU32,
    last_iova: AtomicU64,
    last_length: AtomicU64,
}

#[vtable]
impl vfio::Driver for RustVfioEmul {
    type Data = EmulData;
    type Iommu = vfio::Emulated;
    const NAME: &'static CStr = c_str!("rust-vfio-emul");

    fn dma_unmap(dev: &vfio::Device<Self>, iova: u64, length: u64) {
        let data = dev.data();
        data.last_iova.store(iova, Ordering::Relaxed);
        data.last_length.store(length, Ordering::Relaxed);
        data.unmaps.fetch_add(1, Ordering::Release);
    }
}

impl TestDriver for RustVfioEmul {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<vfio::Registration<Self>> {
        if group_peer.is_some() {
            return Err(EINVAL);
        }
        let parent_dev = PlainDevice::new(c_str!("rust-vfio-emul"))?;
        let parent: ARef<device::Device> = parent_dev.device().into();
        let data = EmulData {
            _parent: parent_dev,
            unmaps: AtomicU32::new(0),
            last_iova: AtomicU64::new(0),
            last_length: AtomicU64::new(0),
        };
        vfio::Registration::new(&parent, data)
    }

    fn unmaps(dev: &vfio::Device<Self>) -> (u32, u64, u64) {
        let data = dev.data();
        let count = data.unmaps.load(Ordering::Acquire);
        (
            count,
            data.last_iova.load(Ordering::Relaxed),
            data.last_length.load(Ordering::Relaxed),
        )
    }
}

kernel::vfio_test_factory!(
    RustVfioEmul,
    rust_vfio_sample_emul_create,
    rust_vfio_sample_emul_destroy,
    rust_vfio_sample_emul_unmaps
);
