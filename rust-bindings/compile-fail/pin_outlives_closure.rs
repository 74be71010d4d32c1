// SPDX-License-Identifier: GPL-2.0
//
// rule: a pinned page does not outlive with_pinned_page
// expect: borrowed data escapes outside of closure
//
// The pinned page is kept past the closure: it would still be in use when the page is unpinned
// and when dma_unmap returns.

use kernel::{
    prelude::*,
    uaccess::UserSliceWriter,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: PinOutlivesClosure,
    name: "pin_outlives_closure",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct PinOutlivesClosure;

impl kernel::Module for PinOutlivesClosure {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for PinOutlivesClosure {
    type Data = ();
    type Iommu = vfio::Emulated;
    const NAME: &'static CStr = c"pin-outlives-closure";
    fn read(dev: &vfio::Open<'_, Self>, _buf: UserSliceWriter, _offset: u64) -> Result<usize> {
        let mut kept = None;
        dev.with_pinned_page(0, false, |page| kept = Some(page))?;
        Ok(0)
    }
}

impl TestDriver for PinOutlivesClosure {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        let _ = group_peer;
        TestDevice::new_platform(())
    }
}

kernel::vfio_test_factory!(
    PinOutlivesClosure,
    pin_outlives_closure_create,
    pin_outlives_closure_destroy,
    pin_outlives_closure_unmaps
);
