// SPDX-License-Identifier: GPL-2.0
//
// rule: only a kind with PASIDs has PASID hooks
// expect: error[E0080]
// expect: a vfio::DeviceOps whose kind has no PASIDs cannot hook their attach and detach
//
// An emulated device has no PASID callbacks: the VFIO core refuses the PASID flag of ATTACH
// and DETACH before any driver code, so hooks there would never run.

use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: PasidHookOnEmulated,
    name: "pasid_hook_on_emulated",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct PasidHookOnEmulated;

impl kernel::Module for PasidHookOnEmulated {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for PasidHookOnEmulated {
    type Data = ();
    type Iommu = vfio::Emulated;
    type OpenData = ();
    const NAME: &'static CStr = c"pasid-hook-on-emulated";

    fn pasid_attach_ioas(_dev: &vfio::Locked<'_, Self>, _pasid: u32, _attached: Result<u32>) {}
    fn pasid_detach_ioas(_dev: &vfio::Locked<'_, Self>, _pasid: u32) {}
}

impl TestDriver for PasidHookOnEmulated {
    fn create(_group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        TestDevice::new_faux(())
    }
}

kernel::vfio_test_factory!(
    PasidHookOnEmulated,
    pasid_hook_on_emulated_create,
    pasid_hook_on_emulated_destroy,
    pasid_hook_on_emulated_unmaps
);
