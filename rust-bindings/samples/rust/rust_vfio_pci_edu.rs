// SPDX-License-Identifier: GPL-2.0

//! Rust vfio-pci variant driver for QEMU's `edu` device (PCI 1234:11e8).
//!
//! It hands the device to user space as vfio-pci does: every callback it does not implement is
//! vfio-pci-core's (regions, interrupts, reset, mmap of BARs, `request`). It binds only when
//! user space asks for it through `driver_override`, and hooks `attach_ioas` and `detach_ioas`
//! to count the times the device became attached and stopped being attached, which it reports
//! when the device is closed.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{device::Core, pci, prelude::*, vfio};

kernel::module_vfio_pci_driver! {
    type: RustVfioPciEdu,
    name: "rust_vfio_pci_edu",
    authors: ["Rust for Linux Contributors"],
    description: "Rust vfio-pci variant driver for QEMU's edu device",
    license: "GPL",
}

/// QEMU's vendor ID for its test devices, which has no `PCI_VENDOR_ID_` constant.
const QEMU_TEST_VENDOR: u16 = 0x1234;
/// The `edu` device.
const EDU_DEVICE: u32 = 0x11e8;

kernel::pci_device_table!(
    PCI_TABLE,
    (),
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(QEMU_TEST_VENDOR), EDU_DEVICE)
            .vfio_override_only(),
        ()
    )]
);

struct RustVfioPciEdu;

/// The driver's data: how many times the device became attached, and stopped being attached.
struct EduData {
    attaches: AtomicU32,
    detaches: AtomicU32,
}

#[vtable]
impl vfio::DeviceOps for RustVfioPciEdu {
    type Data = EduData;
    type Iommu = vfio::pci::Core;
    type OpenData = ();
    const NAME: &'static CStr = c"rust-vfio-pci-edu";

    fn close_device(dev: &vfio::Device<Self>) {
        let data = dev.data();
        pr_debug!(
            "closed after {} attaches and {} detaches\n",
            data.attaches.load(Ordering::Relaxed),
            data.detaches.load(Ordering::Relaxed)
        );
    }

    fn attach_ioas(dev: &vfio::Locked<'_, Self>, attached: Result<u32>) {
        let data = dev.data();
        match attached {
            // Attached now, and not before: as many attaches as detaches so far.
            Ok(pt_id)
                if data.attaches.load(Ordering::Relaxed)
                    == data.detaches.load(Ordering::Relaxed) =>
            {
                let n = data.attaches.fetch_add(1, Ordering::Relaxed) + 1;
                dev_dbg!(dev.parent(), "attach {} to {}\n", n, pt_id);
            }
            Ok(pt_id) => dev_dbg!(dev.parent(), "replaced by {}\n", pt_id),
            Err(e) => dev_dbg!(dev.parent(), "attach failed: {:?}\n", e),
        }
    }

    fn detach_ioas(dev: &vfio::Locked<'_, Self>) {
        let n = dev.data().detaches.fetch_add(1, Ordering::Relaxed) + 1;
        dev_dbg!(dev.parent(), "detach {}\n", n);
    }
}

impl vfio::pci::Driver for RustVfioPciEdu {
    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core<'_>>) -> impl PinInit<EduData, Error> {
        dev_info!(pdev, "edu device for user space\n");
        Ok(EduData {
            attaches: AtomicU32::new(0),
            detaches: AtomicU32::new(0),
        })
    }
}
