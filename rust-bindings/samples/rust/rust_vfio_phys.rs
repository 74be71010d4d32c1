// SPDX-License-Identifier: GPL-2.0

//! Rust VFIO sample driver for a physical device behind an IOMMU.
//!
//! The Rust twin of `samples/vfio/vfio_sample_phys.c`: its devices are mock devices of
//! iommufd's mock IOMMU (`CONFIG_IOMMUFD_TEST`), each bound to a driver of its own on the mock
//! bus, and registered as [`vfio::Physical`] devices. It hooks `attach_ioas` and
//! `detach_ioas`, as a driver with work to do around them would, and counts the attaches the
//! core made and the detaches; binding, attaching and detaching themselves are the VFIO core's.
//! Its mock devices have PASIDs, which the core's PASID helpers attach and detach, as
//! vfio-pci's; it hooks those too, and counts them. The KUnit suite
//! `vfio_iommufd` makes its devices through the factory at the end.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: RustVfioPhys,
    name: "rust_vfio_phys",
    authors: ["Rust for Linux Contributors"],
    description: "Rust VFIO sample driver for a physical device on the iommufd mock IOMMU",
    license: "GPL",
}

struct RustVfioPhys;

impl kernel::Module for RustVfioPhys {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("Rust VFIO physical sample driver\n");
        Ok(Self)
    }
}

/// The driver's data: how many times the device, and its PASIDs, became attached, and stopped
/// being attached.
struct PhysData {
    attaches: AtomicU32,
    detaches: AtomicU32,
    pasid_attaches: AtomicU32,
    pasid_detaches: AtomicU32,
}

#[vtable]
impl vfio::DeviceOps for RustVfioPhys {
    type Data = PhysData;
    type Iommu = vfio::Physical;
    type OpenData = ();
    const NAME: &'static CStr = c"rust-vfio-phys";

    fn attach_ioas(dev: &vfio::Locked<'_, Self>, attached: Result<u32>) {
        match attached {
            Ok(pt_id) => {
                let n = dev.data().attaches.fetch_add(1, Ordering::Relaxed) + 1;
                dev_dbg!(dev.parent(), "attach {} to {}\n", n, pt_id);
            }
            Err(e) => dev_dbg!(dev.parent(), "attach failed: {:?}\n", e),
        }
    }

    fn detach_ioas(dev: &vfio::Locked<'_, Self>) {
        let n = dev.data().detaches.fetch_add(1, Ordering::Relaxed) + 1;
        dev_dbg!(dev.parent(), "detach {}\n", n);
    }

    fn pasid_attach_ioas(dev: &vfio::Locked<'_, Self>, pasid: u32, attached: Result<u32>) {
        if let Ok(pt_id) = attached {
            let n = dev.data().pasid_attaches.fetch_add(1, Ordering::Relaxed) + 1;
            dev_dbg!(dev.parent(), "PASID {} attach {} to {}\n", pasid, n, pt_id);
        }
    }

    fn pasid_detach_ioas(dev: &vfio::Locked<'_, Self>, pasid: u32) {
        let n = dev.data().pasid_detaches.fetch_add(1, Ordering::Relaxed) + 1;
        dev_dbg!(dev.parent(), "PASID {} detach {}\n", pasid, n);
    }
}

impl TestDriver for RustVfioPhys {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        let data = PhysData {
            attaches: AtomicU32::new(0),
            detaches: AtomicU32::new(0),
            pasid_attaches: AtomicU32::new(0),
            pasid_detaches: AtomicU32::new(0),
        };
        TestDevice::new_mock(group_peer, data)
    }
}

kernel::vfio_test_factory!(
    RustVfioPhys,
    rust_vfio_sample_phys_create,
    rust_vfio_sample_phys_destroy,
    rust_vfio_sample_phys_unmaps
);
