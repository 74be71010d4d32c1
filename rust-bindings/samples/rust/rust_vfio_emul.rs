// SPDX-License-Identifier: GPL-2.0

//! Rust VFIO sample driver for an emulated-IOMMU device.
//!
//! The Rust twin of `samples/vfio/vfio_sample_emul.c`: a device that reaches memory through
//! the CPU, registered as a [`vfio::Emulated`] device on a faux device. Binding, attaching and
//! detaching are the VFIO core's; the driver counts opens in `open_device`, hooks
//! `bind_iommufd` and `unbind_iommufd` to count the binds, and `dma_unmap` to record the calls,
//! in a [`Mutex`] of its data. The KUnit suite `vfio_iommufd` makes its devices through the
//! factory at the end.
//!
//! The device does DMA when user space reads or writes its file, at offset
//! `(region << REGION_SHIFT) | iova`, up to a page at a time: region [`REGION_DMA_RW`] copies
//! through `vfio_dma_rw`, region [`REGION_PIN`] through a pin of the page holding the range.
//! A read copies guest memory to the caller; a write the reverse. Unlike the C sample, it
//! needs no lock of its own for the pins: [`vfio::Open::read_pinned`] and
//! [`vfio::Open::write_pinned`] unpin before they return, and the abstraction's `dma_unmap`
//! waits for the pins taken before it was called.

use kernel::{
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::Mutex,
    uaccess::{UserSliceReader, UserSliceWriter},
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: RustVfioEmul,
    name: "rust_vfio_emul",
    authors: ["Rust for Linux Contributors"],
    description: "Rust VFIO sample driver for an emulated-IOMMU device",
    license: "GPL",
}

/// File offsets: `(region << REGION_SHIFT) | iova`, as in `samples/vfio/vfio_sample.h`.
const REGION_SHIFT: u32 = 40;
/// The region whose reads and writes go through `vfio_dma_rw`.
const REGION_DMA_RW: u64 = 0;
/// The region whose reads and writes go through a pinned page.
const REGION_PIN: u64 = 1;

struct RustVfioEmul;

impl kernel::Module for RustVfioEmul {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("Rust VFIO emulated sample driver\n");
        Ok(Self)
    }
}

/// Copies between `data` and guest memory, as the region of `offset` says.
fn dma(dev: &vfio::Open<'_, RustVfioEmul>, offset: u64, data: &mut [u8], write: bool) -> Result {
    let iova = offset & ((1 << REGION_SHIFT) - 1);
    match offset >> REGION_SHIFT {
        REGION_DMA_RW if write => dev.dma_write(iova, data),
        REGION_DMA_RW => dev.dma_read(iova, data),
        REGION_PIN if write => dev.write_pinned(iova, data),
        REGION_PIN => dev.read_pinned(iova, data),
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

/// What the device was asked to do, as the driver's hooks saw it.
#[derive(Default)]
struct EmulLog {
    opens: u32,
    binds: u32,
    unbinds: u32,
    unmaps: u32,
    last_unmap: (u64, u64),
}

/// The driver's data.
#[pin_data]
struct EmulData {
    #[pin]
    log: Mutex<EmulLog>,
}

impl EmulData {
    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            log <- new_mutex!(EmulLog::default(), "rust_vfio_emul::log"),
        })
    }
}

#[vtable]
impl vfio::DeviceOps for RustVfioEmul {
    type Data = EmulData;
    type Iommu = vfio::Emulated;
    const NAME: &'static CStr = c"rust-vfio-emul";

    fn open_device(dev: &vfio::Device<Self>) -> Result {
        dev.data().log.lock().opens += 1;
        Ok(())
    }

    fn close_device(dev: &vfio::Device<Self>) {
        let log = dev.data().log.lock();
        pr_debug!("close after {} opens, {} binds\n", log.opens, log.binds);
    }

    fn bind_iommufd(dev: &vfio::Locked<'_, Self>, device_id: u32) -> Result {
        let binds = {
            let mut log = dev.data().log.lock();
            log.binds += 1;
            log.binds
        };
        pr_debug!("bind {} as {}\n", binds, device_id);
        Ok(())
    }

    fn unbind_iommufd(dev: &vfio::Locked<'_, Self>) {
        let mut log = dev.data().log.lock();
        log.unbinds += 1;
        pr_debug!("unbind {} of {}\n", log.unbinds, log.binds);
    }

    fn dma_unmap(dev: &vfio::Device<Self>, iova: u64, length: u64) {
        let mut log = dev.data().log.lock();
        log.unmaps += 1;
        log.last_unmap = (iova, length);
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
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        if group_peer.is_some() {
            return Err(EINVAL);
        }
        TestDevice::new_faux(EmulData::new())
    }

    fn unmaps(dev: &vfio::Device<Self>) -> (u32, u64, u64) {
        let log = dev.data().log.lock();
        (log.unmaps, log.last_unmap.0, log.last_unmap.1)
    }
}

kernel::vfio_test_factory!(
    RustVfioEmul,
    rust_vfio_sample_emul_create,
    rust_vfio_sample_emul_destroy,
    rust_vfio_sample_emul_unmaps
);
