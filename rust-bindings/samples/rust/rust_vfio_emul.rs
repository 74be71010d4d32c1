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
//!
//! Its region [`REGION_MAILBOX`] is two pages: a mailbox, which user space maps (the region's
//! one sparse-mmap area) or reads and writes through the file, then registers, of which
//! [`REG_DOORBELL`] rings a doorbell when written and counts the rings since the last reset
//! when read. A ring signals the eventfd user space set for [`IRQ_DOORBELL`], which lives as
//! long as the open that set it ([`vfio::PerOpen`]); a request to close the device signals the
//! one of [`IRQ_REQ`]. The ioctls are the abstraction's typed hooks: `VFIO_DEVICE_GET_INFO`,
//! `GET_REGION_INFO`, `GET_IRQ_INFO`, `SET_IRQS` and `RESET`, which zeroes the mailbox and the
//! count.

use kernel::{
    mm::virt::VmaNew,
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

/// The region whose reads and writes go through `vfio_dma_rw`; as in
/// `samples/vfio/vfio_sample.h`, its file offsets are `(region << REGION_SHIFT) | iova`.
const REGION_DMA_RW: u64 = 0;
/// The region whose reads and writes go through a pinned page.
const REGION_PIN: u64 = 1;
/// The region of the mailbox page and the registers' page.
const REGION_MAILBOX: u64 = 2;
/// The number of regions.
const NUM_REGIONS: u32 = 3;
/// The register at the start of the registers' page: writing rings the doorbell.
const REG_DOORBELL: usize = 0;
/// The interrupt of a rung doorbell.
const IRQ_DOORBELL: u32 = 0;
/// The interrupt that asks user space to close the device.
const IRQ_REQ: u32 = 1;
/// The number of interrupt indexes.
const NUM_IRQS: u32 = 2;

struct RustVfioEmul;

impl kernel::Module for RustVfioEmul {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("Rust VFIO emulated sample driver\n");
        Ok(Self)
    }
}

/// Copies between `data` and guest memory, or the mailbox region, as the region of `offset`
/// says.
fn access(dev: &vfio::Open<'_, RustVfioEmul>, offset: u64, data: &mut [u8], write: bool) -> Result {
    let (region, iova) = vfio::region_of(offset);
    match region {
        REGION_DMA_RW if write => dev.dma_write(iova, data),
        REGION_DMA_RW => dev.dma_read(iova, data),
        REGION_PIN if write => dev.write_pinned(iova, data),
        REGION_PIN => dev.read_pinned(iova, data),
        REGION_MAILBOX => mailbox(dev, iova, data, write),
        _ => Err(EINVAL),
    }
}

/// Reads or writes the mailbox page, or the registers' page, at `offset` of the region.
fn mailbox(
    dev: &vfio::Open<'_, RustVfioEmul>,
    offset: u64,
    data: &mut [u8],
    write: bool,
) -> Result {
    let page = usize::try_from(offset / PAGE_SIZE as u64)?;
    let offset = (offset % PAGE_SIZE as u64) as usize;
    match page {
        0 if write => dev.data().mailbox.write(offset, data),
        0 => dev.data().mailbox.read(offset, data),
        1 if offset == REG_DOORBELL && data.len() == 4 => {
            let mut log = dev.data().log.lock();
            if write {
                log.doorbells = log.doorbells.wrapping_add(1);
                if let Some(trigger) = &*dev.open_data().doorbell.lock() {
                    trigger.signal();
                }
            } else {
                data.copy_from_slice(&log.doorbells.to_ne_bytes());
            }
            Ok(())
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

/// What the device was asked to do, as the driver's hooks saw it, and its doorbell count.
#[derive(Default)]
struct EmulLog {
    opens: u32,
    binds: u32,
    unbinds: u32,
    unmaps: u32,
    last_unmap: (u64, u64),
    doorbells: u32,
}

/// The driver's data, while the parent is bound.
#[pin_data]
struct EmulData {
    #[pin]
    log: Mutex<EmulLog>,
    mailbox: vfio::UserPage,
    /// The eventfd of [`IRQ_REQ`]; `request` reads it without an open, so it is here, and
    /// `close_device` clears it.
    #[pin]
    request: Mutex<Option<vfio::EventFd>>,
}

impl EmulData {
    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            log <- new_mutex!(EmulLog::default(), "rust_vfio_emul::log"),
            mailbox: vfio::UserPage::new()?,
            request <- new_mutex!(None, "rust_vfio_emul::request"),
        })
    }
}

/// The driver's state of an open: the eventfd of [`IRQ_DOORBELL`], gone with the open.
#[pin_data]
struct EmulOpen {
    #[pin]
    doorbell: Mutex<Option<vfio::EventFd>>,
}

impl vfio::PerOpen<RustVfioEmul> for EmulOpen {
    fn open(_dev: &vfio::Device<RustVfioEmul>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            doorbell <- new_mutex!(None, "rust_vfio_emul::doorbell"),
        })
    }
}

/// Carries out `set` on the eventfd `slot` of an interrupt: set or clear it, signal it, or,
/// with an empty range, clear it.
fn set_trigger(slot: &Mutex<Option<vfio::EventFd>>, set: vfio::IrqSet) -> Result {
    if set.action != vfio::IrqAction::Trigger {
        return Err(EINVAL);
    }
    let mut slot = slot.lock();
    match set.data {
        vfio::IrqData::EventFd(mut fds) => {
            if let Some(fd) = fds.pop() {
                *slot = fd;
            }
        }
        vfio::IrqData::None if set.count == 0 => *slot = None,
        vfio::IrqData::None => slot.iter().for_each(vfio::EventFd::signal),
        vfio::IrqData::Bool(fire) => {
            if fire.first() == Some(&true) {
                slot.iter().for_each(vfio::EventFd::signal);
            }
        }
    }
    Ok(())
}

#[vtable]
impl vfio::DeviceOps for RustVfioEmul {
    type Data = EmulData;
    type Iommu = vfio::Emulated;
    type OpenData = EmulOpen;
    const NAME: &'static CStr = c"rust-vfio-emul";

    fn open_device(dev: &vfio::Device<Self>) -> Result {
        dev.data().log.lock().opens += 1;
        Ok(())
    }

    fn close_device(dev: &vfio::Device<Self>) {
        *dev.data().request.lock() = None;
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
            access(dev, offset, &mut data, false)?;
            buf.write_slice(&data)?;
        }
        Ok(data.len())
    }

    fn write(dev: &vfio::Open<'_, Self>, mut buf: UserSliceReader, offset: u64) -> Result<usize> {
        let mut data = dma_buffer(buf.len())?;
        if !data.is_empty() {
            buf.read_slice(&mut data)?;
            access(dev, offset, &mut data, true)?;
        }
        Ok(data.len())
    }

    fn device_info(_dev: &vfio::Open<'_, Self>) -> Result<vfio::DeviceInfo> {
        Ok(vfio::DeviceInfo {
            flags: 0,
            num_regions: NUM_REGIONS,
            num_irqs: NUM_IRQS,
        })
    }

    fn region_info(
        _dev: &vfio::Open<'_, Self>,
        index: u32,
        caps: &mut vfio::RegionCaps<'_>,
    ) -> Result<vfio::RegionInfo> {
        let flags = vfio::REGION_READ | vfio::REGION_WRITE;
        match u64::from(index) {
            REGION_DMA_RW | REGION_PIN => Ok(vfio::RegionInfo {
                size: 1 << vfio::REGION_SHIFT,
                flags,
            }),
            REGION_MAILBOX => {
                caps.add_sparse_mmap(&[(0, PAGE_SIZE as u64)])?;
                Ok(vfio::RegionInfo {
                    size: 2 * PAGE_SIZE as u64,
                    flags: flags | vfio::REGION_MMAP,
                })
            }
            _ => Err(EINVAL),
        }
    }

    fn irq_info(_dev: &vfio::Open<'_, Self>, index: u32) -> Result<vfio::IrqInfo> {
        match index {
            IRQ_DOORBELL | IRQ_REQ => Ok(vfio::IrqInfo {
                flags: vfio::IRQ_EVENTFD,
                count: 1,
            }),
            _ => Err(EINVAL),
        }
    }

    fn set_irqs(dev: &vfio::Open<'_, Self>, set: vfio::IrqSet) -> Result {
        match set.index {
            IRQ_DOORBELL => set_trigger(&dev.open_data().doorbell, set),
            IRQ_REQ => set_trigger(&dev.data().request, set),
            _ => Err(EINVAL),
        }
    }

    fn reset(dev: &vfio::Open<'_, Self>) -> Result {
        let mut log = dev.data().log.lock();
        dev.data().mailbox.clear();
        log.doorbells = 0;
        Ok(())
    }

    fn mmap(dev: &vfio::Open<'_, Self>, vma: &VmaNew, index: u64, offset: u64) -> Result {
        if index != REGION_MAILBOX || offset != 0 {
            return Err(EINVAL);
        }
        dev.data().mailbox.map(vma)
    }

    fn request(dev: &vfio::Device<Self>, count: u32) {
        if let Some(trigger) = &*dev.data().request.lock() {
            if count == 0 {
                dev_info!(dev.parent(), "asking user space to close the device\n");
            }
            trigger.signal();
        }
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
