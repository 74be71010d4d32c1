// SPDX-License-Identifier: GPL-2.0

//! A Rust VFIO driver whose module can be unloaded while user space uses its device.
//!
//! Loading it makes one [`vfio::Emulated`] device on a faux device, whose driver is not this
//! module's, so the VFIO core does not keep this module loaded while the device is open; the
//! abstraction does. With `leak`, the module forgets the device instead of keeping it, as a
//! driver that leaks its registration would: unloading the module must then end the
//! registration before the module's memory is freed.
//!
//! Reading the device's file at any offset returns [`MAGIC`], from this module's code. A test
//! loads the module, opens the device through its cdev and checks that the module cannot be
//! unloaded until the device is closed, that a read still answers then, and that the device is
//! gone once the module is, with or without `leak`.

use kernel::{prelude::*, uaccess::UserSliceWriter, vfio, vfio::testing::TestDevice};

module! {
    type: VfioRustUnloadTest,
    name: "vfio_rust_unload_test",
    authors: ["Rust for Linux Contributors"],
    description: "A Rust VFIO driver to unload while its device is used",
    license: "GPL",
    params: {
        leak: bool {
            default: false,
            description: "Forget the device instead of dropping it at unload",
        },
    },
}

/// What a read of the device returns.
const MAGIC: u32 = 0x7666_696f;

struct VfioRustUnloadTest {
    _dev: Option<TestDevice<Self>>,
}

#[vtable]
impl vfio::DeviceOps for VfioRustUnloadTest {
    type Data = ();
    type Iommu = vfio::Emulated;
    type OpenData = ();
    const NAME: &'static CStr = c"vfio-rust-unload-test";

    fn read(_dev: &vfio::Open<'_, Self>, mut buf: UserSliceWriter, _offset: u64) -> Result<usize> {
        let bytes = MAGIC.to_ne_bytes();
        let len = buf.len().min(bytes.len());
        buf.write_slice(&bytes[..len])?;
        Ok(len)
    }
}

impl kernel::Module for VfioRustUnloadTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let dev = TestDevice::<Self>::new_faux(())?;
        let leak = module_parameters::leak.value();
        dev_info!(dev.device().parent(), "registered, leak={}\n", leak);
        if leak {
            core::mem::forget(dev);
            return Ok(Self { _dev: None });
        }
        Ok(Self { _dev: Some(dev) })
    }
}
