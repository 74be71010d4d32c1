// SPDX-License-Identifier: GPL-2.0
//
// rule: no driver code runs while a page is pinned
// expect: error[E0624]
// expect: method `with_pinned_page` is private
//
// The driver copies the pinned page to user space while it is pinned. The copy may fault on a
// page of user memory that never comes in (userfaultfd), and dma_unmap, which waits for the
// pin, would wait as long, in D state. Only read_pinned and write_pinned pin a page, and copy
// between it and kernel memory only.

use kernel::{
    prelude::*,
    uaccess::UserSliceWriter,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: PinnedPageRunsDriverCode,
    name: "pinned_page_runs_driver_code",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct PinnedPageRunsDriverCode;

impl kernel::Module for PinnedPageRunsDriverCode {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for PinnedPageRunsDriverCode {
    type Data = ();
    type Iommu = vfio::Emulated;
    type OpenData = ();
    const NAME: &'static CStr = c"pinned-page-runs-driver-code";
    fn read(dev: &vfio::Open<'_, Self>, mut buf: UserSliceWriter, _offset: u64) -> Result<usize> {
        dev.with_pinned_page(0, 1, false, |_page, _offset| {
            let _ = buf.write_slice(&[0]);
        })?;
        Ok(1)
    }
}

impl TestDriver for PinnedPageRunsDriverCode {
    fn create(group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        let _ = group_peer;
        TestDevice::new_faux(())
    }
}

kernel::vfio_test_factory!(
    PinnedPageRunsDriverCode,
    pinned_page_runs_driver_code_create,
    pinned_page_runs_driver_code_destroy,
    pinned_page_runs_driver_code_unmaps
);
