// SPDX-License-Identifier: GPL-2.0

//! Rust VFIO sample driver for a physical device behind an IOMMU.
//!
//! The Rust twin of `samples/vfio/vfio_sample_phys.c`: its devices are mock devices of
//! iommufd's mock IOMMU (`CONFIG_IOMMUFD_TEST`), bound to the module's driver on the mock bus
//! and registered as [`vfio::Physical`] devices.
//! It overrides `attach_ioas` and `detach_ioas`, as a driver with work to do around them
//! would, and delegates to the VFIO core's helpers; the other callbacks are the helpers
//! themselves. The KUnit suite `vfio_iommufd` makes its devices through the factory at the end.

use kernel::{
    c_str, device,
    prelude::*,
    types::ARef,
    vfio,
    vfio::testing::{MockDevice, MockDriver, TestDriver},
    vfio::IommuKind,
};

module! {
    type: RustVfioPhys,
    name: "rust_vfio_phys",
    author: "Rust for Linux Contributors",
    description: "Rust VFIO sample driver for a physical device on the iommufd mock IOMMU",
    license: "GPL",
}

struct RustVfioPhys {
    _driver: MockDriver,
}

impl kernel::Module for RustVfioPhys {
    fn init(module: &'static ThisModule) -> Result<Self> {
        pr_info!("Rust VFIO physical sample driver\n");
        Ok(Self {
            _driver: MockDriver::register(<Self as vfio::Driver>::NAME, module)?,
        })
    }
}

/// The driver's data: the device it stands for, destroyed after the VFIO device.
struct PhysData {
    _mock: MockDevice,
}

#[vtable]
impl vfio::Driver for RustVfioPhys {
    type Data = PhysData;
    type Iommu = vfio::Physical;
    const NAME: &'static CStr = c_str!("rust-vfio-phys");

    fn attach_ioas(dev: &vfio::Locked<'_, Self>, pt_id: &mut vfio::PtId) -> Result {
        vfio::Physical::attach_ioas(dev, pt_id)
    }

    fn detach_ioas(dev: &vfio::Locked<'_, Self>) {
        vfio::Physical::detach_ioas(dev)
    }
}

impl TestDriver for RustVfioPhys {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<vfio::Registration<Self>> {
        let mock = MockDevice::new(<Self as vfio::Driver>::NAME, group_peer)?;
        let parent: ARef<device::Device> = mock.device().into();
        vfio::Registration::new(&parent, PhysData { _mock: mock })
    }
}

kernel::vfio_test_factory!(
    RustVfioPhys,
    rust_vfio_sample_phys_create,
    rust_vfio_sample_phys_destroy,
    rust_vfio_sample_phys_unmaps
);
