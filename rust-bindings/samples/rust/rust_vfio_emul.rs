// SPDX-License-Identifier: GPL-2.0

//! Rust VFIO sample driver for an emulated-IOMMU device.
//!
//! The Rust twin of `samples/vfio/vfio_sample_emul.c`: a device that reaches memory through
//! the CPU, registered as a [`vfio::Emulated`] device on a platform device of its own, bound to
//! the module's platform driver. The iommufd callbacks are the VFIO core's helpers; its
//! `dma_unmap` is where a real driver would unpin what it pinned in the range, and records the
//! call. The KUnit suite `vfio_iommufd` makes its devices through the factory at the end.
//!
//! The device does DMA when user space reads or writes its file, at offset
//! `(region << REGION_SHIFT) | iova`, up to a page at a time: region [`REGION_DMA_RW`] copies
//! through `vfio_dma_rw`, region [`REGION_PIN`] through a pin of the page holding the range.
//! A read copies guest memory to the caller; a write the reverse.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{
    c_str, device,
    page::PAGE_SIZE,
    prelude::*,
    types::ARef,
    uaccess::{UserSliceReader, UserSliceWriter},
    vfio,
    vfio::testing::{PlainDevice, PlainDriver, TestDriver},
};

module! {
    type: RustVfioEmul,
    name: "rust_vfio_emul",
    author: "Rust for Linux Contributors",
    description: "Rust VFIO sample driver for an emulated-IOMMU device",
    license: "GPL",
}

/// File offsets: `(region << REGION_SHIFT) | iova`, as in `samples/vfio/vfio_sample.h`.
const REGION_SHIFT: u32 = 40;
/// The region whose reads and writes go through `vfio_dma_rw`.
const REGION_DMA_RW: u64 = 0;
/// The region whose reads and writes go through a pinned page.
const REGION_PIN: u64 = 1;

struct RustVfioEmul {
    _driver: PlainDriver,
}

impl kernel::Module for RustVfioEmul {
    fn init(module: &'static ThisModule) -> Result<Self> {
        pr_info!("Rust VFIO emulated sample driver\n");
        Ok(Self {
            _driver: PlainDriver::register(<Self as vfio::Driver>::NAME, module)?,
        })
    }
}

/// Copies between `data` and guest memory, as the region of `offset` says.
fn dma(dev: &vfio::Open<'_, RustVfioEmul>, offset: u64, data: &mut [u8], write: bool) -> Result {
    let iova = offset & ((1 << REGION_SHIFT) - 1);
    match offset >> REGION_SHIFT {
        REGION_DMA_RW if write => dev.dma_write(iova, data),
        REGION_DMA_RW => dev.dma_read(iova, data),
        REGION_PIN => {
            let in_page = iova % PAGE_SIZE as u64;
            let page = dev.pin_page(iova - in_page, write)?;
            if write {
                page.write(in_page as usize, data)
            } else {
                page.read(in_page as usize, data)
            }
        }
        _ => Err(EINVAL),
    }
}

/// A buffer for up to a page of DMA.
fn dma_buffer(len: usize) -> Result<KVec<u8>> {
    if len > PAGE_SIZE {
        return Err(EINVAL);
    }
    Ok(KVec::from_elem(0, len, GFP_KERNEL)?)
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

    fn read(dev: &vfio::Open<'_, Self>, mut buf: UserSliceWriter, offset: u64) -> Result<usize> {
        let mut data = dma_buffer(buf.len())?;
        if !data.is_empty() {
            dma(dev, offset, &mut data, false)?;
            buf.write_slice(&data)?;
        }
        Ok(data.len())
    }

    fn write(dev: &vfio::Open<'_, Self>, mut buf: UserSliceReader, offset: u64) -> Result<usize> {
        let mut data = dma_buffer(buf.len())?;
        if !data.is_empty() {
            buf.read_slice(&mut data)?;
            dma(dev, offset, &mut data, true)?;
        }
        Ok(data.len())
    }
}

impl TestDriver for RustVfioEmul {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<vfio::Registration<Self>> {
        if group_peer.is_some() {
            return Err(EINVAL);
        }
        let parent_dev = PlainDevice::new(<Self as vfio::Driver>::NAME)?;
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
