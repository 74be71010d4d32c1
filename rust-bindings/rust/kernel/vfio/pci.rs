// SPDX-License-Identifier: GPL-2.0

//! vfio-pci variant drivers.
//!
//! C header: [`include/linux/vfio_pci_core.h`](srctree/include/linux/vfio_pci_core.h)
//!
//! A vfio-pci variant driver is a PCI driver whose devices are VFIO devices of vfio-pci-core: it
//! hands a PCI device to user space as vfio-pci does, and changes what it needs to. Its
//! [`DeviceOps`] has the kind [`Core`]: its device starts with a `struct vfio_pci_core_device`;
//! it is bound, attached and detached by the VFIO core's helpers for a physical device, around
//! which its iommufd hooks run as for [`Physical`]; and every callback it does
//! not implement is vfio-pci-core's (`ioctl`, `read`, `write`, `mmap`, `request`, `match`, the
//! device features, the region info). `open_device` runs between `vfio_pci_core_enable()` and
//! `vfio_pci_core_finish_enable()`, `close_device` before `vfio_pci_core_close_device()`.
//!
//! Its PCI driver glue is [`Adapter`], a [`driver::RegistrationOps`] of its own rather than
//! [`pci::Adapter`]: vfio-pci-core needs the PCI device's driver data to be its
//! `struct vfio_pci_core_device`, its error handlers, and `driver_managed_dma`. The adapter
//! registers the VFIO device in `probe` and unregisters it in `remove`, so the device's callbacks
//! only run while the PCI device is bound. [`module_vfio_pci_driver!`] declares a module with
//! one such driver.
//!
//! [`module_vfio_pci_driver!`]: crate::module_vfio_pci_driver

use super::{
    private, AttachFn, BindFn, Device, DeviceFn, DeviceOps, IommuKind, OpenFn, PasidAttachFn,
    PasidDetachFn, Physical, Registered, NO_OPS,
};
use crate::{
    bindings, device, driver,
    error::{from_result, to_result, Result},
    ffi::c_int,
    module::this_module,
    pci,
    prelude::*,
    types::Opaque,
    ThisModule,
};
use core::{marker::PhantomData, ptr};

/// The kind of a vfio-pci variant driver's device: a `struct vfio_pci_core_device`, bound,
/// attached and detached as a [`Physical`] device (its PASIDs included),
/// registered by [`Adapter`] when its PCI device is probed, whose other callbacks default to
/// vfio-pci-core's.
pub enum Core {}

impl private::Sealed for Core {}

/// # Safety
///
/// `vdev` must be a device of kind [`Core`], being opened.
unsafe extern "C" fn enable(vdev: *mut bindings::vfio_device) -> c_int {
    // SAFETY: A device of kind `Core` starts with its `struct vfio_pci_core_device`.
    unsafe { bindings::vfio_pci_core_enable(vdev.cast()) }
}

/// # Safety
///
/// `vdev` must be a device of kind [`Core`], enabled by [`enable`].
unsafe extern "C" fn finish_enable(vdev: *mut bindings::vfio_device) {
    // SAFETY: A device of kind `Core` starts with its `struct vfio_pci_core_device`.
    unsafe { bindings::vfio_pci_core_finish_enable(vdev.cast()) }
}

/// # Safety
///
/// `vdev` must be a device of kind [`Core`], enabled by [`enable`] and not finished.
unsafe extern "C" fn disable(vdev: *mut bindings::vfio_device) {
    // SAFETY: A device of kind `Core` starts with its `struct vfio_pci_core_device`.
    unsafe { bindings::vfio_pci_core_disable(vdev.cast()) }
}

impl IommuKind for Core {
    type Head = bindings::vfio_pci_core_device;
    const BASE_OPS: bindings::vfio_device_ops = bindings::vfio_device_ops {
        init: Some(bindings::vfio_pci_core_init_dev),
        close_device: Some(bindings::vfio_pci_core_close_device),
        ioctl: Some(bindings::vfio_pci_core_ioctl),
        get_region_info_caps: Some(bindings::vfio_pci_ioctl_get_region_info),
        device_feature: Some(bindings::vfio_pci_core_ioctl_feature),
        read: Some(bindings::vfio_pci_core_read),
        write: Some(bindings::vfio_pci_core_write),
        mmap: Some(bindings::vfio_pci_core_mmap),
        request: Some(bindings::vfio_pci_core_request),
        match_: Some(bindings::vfio_pci_core_match),
        match_token_uuid: Some(bindings::vfio_pci_core_match_token_uuid),
        ..NO_OPS
    };
    const RELEASE: Option<DeviceFn> = Some(bindings::vfio_pci_core_release_dev);
    const OPEN: Option<(OpenFn, DeviceFn, DeviceFn)> = Some((enable, finish_enable, disable));
    const BIND: BindFn = <Physical as IommuKind>::BIND;
    const UNBIND: DeviceFn = <Physical as IommuKind>::UNBIND;
    const ATTACH: AttachFn = <Physical as IommuKind>::ATTACH;
    const DETACH: DeviceFn = <Physical as IommuKind>::DETACH;
    const PASID_ATTACH: Option<PasidAttachFn> = <Physical as IommuKind>::PASID_ATTACH;
    const PASID_DETACH: Option<PasidDetachFn> = <Physical as IommuKind>::PASID_DETACH;
    const EMULATED: bool = false;
}

/// Registers a device of kind [`Core`].
///
/// # Safety
///
/// `vdev` must be an allocated, unregistered device of kind [`Core`], whose PCI device's driver
/// data is its `struct vfio_pci_core_device`.
unsafe fn register(vdev: *mut bindings::vfio_device) -> c_int {
    // SAFETY: See above.
    unsafe { bindings::vfio_pci_core_register_device(vdev.cast()) }
}

/// Unregisters a device of kind [`Core`].
///
/// # Safety
///
/// `vdev` must be a registered device of kind [`Core`].
unsafe fn unregister(vdev: *mut bindings::vfio_device) {
    // SAFETY: See above.
    unsafe { bindings::vfio_pci_core_unregister_device(vdev.cast()) }
}

/// A vfio-pci variant driver: the PCI side of a [`DeviceOps`] of kind [`Core`].
///
/// # Examples
///
/// A driver that binds, through `driver_override` only, to QEMU's `edu` device and changes
/// nothing of vfio-pci:
///
/// ```
/// use kernel::{device::Core, pci, prelude::*, vfio};
///
/// struct Edu;
///
/// kernel::pci_device_table!(
///     EDU_TABLE,
///     (),
///     [(pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8).vfio_override_only(), ())]
/// );
///
/// #[vtable]
/// impl vfio::DeviceOps for Edu {
///     type Data = ();
///     type Iommu = vfio::pci::Core;
///     type OpenData = ();
///     const NAME: &'static CStr = c"edu-vfio-pci";
/// }
///
/// impl vfio::pci::Driver for Edu {
///     const ID_TABLE: pci::IdTable<()> = &EDU_TABLE;
///
///     fn probe(_pdev: &pci::Device<Core<'_>>) -> impl PinInit<(), Error> {
///         Ok(())
///     }
/// }
/// ```
pub trait Driver: DeviceOps<Iommu = Core> {
    /// The PCI devices the driver binds to. A variant driver's entries are usually
    /// [`pci::DeviceId::vfio_override_only`]: it binds when user space asks for it with
    /// `driver_override`, never on its own.
    const ID_TABLE: pci::IdTable<()>;

    /// Returns the initialiser of the driver's data for the VFIO device of `pdev`, which is
    /// probed.
    fn probe(pdev: &pci::Device<device::Core<'_>>) -> impl PinInit<Self::Data, Error>;
}

/// The PCI driver glue of a vfio-pci variant driver `T`.
pub struct Adapter<T: Driver>(PhantomData<T>);

// SAFETY: `pci_driver` is `repr(C)` and embeds its `struct device_driver` at `driver`. The
// driver data of the PCI device is not a `Pin<KBox<DriverData>>` but the device's
// `struct vfio_pci_core_device`, as vfio-pci-core requires; the adapter clears it in `remove`,
// and when `probe` fails, so that the driver core's `post_unbind_rust` finds none.
unsafe impl<T: Driver> driver::DriverLayout for Adapter<T> {
    type DriverType = bindings::pci_driver;
    type DriverData<'bound> = ();
    const DEVICE_DRIVER_OFFSET: usize = core::mem::offset_of!(Self::DriverType, driver);
}

// SAFETY: `unregister` is only called for a driver `register` registered.
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    unsafe fn register(
        pdrv: &Opaque<Self::DriverType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        let pdrv = pdrv.get();
        // SAFETY: The driver is being initialised, not registered yet; the error handlers are
        // a static of vfio-pci-core, which is built in.
        unsafe {
            (*pdrv).name = name.as_char_ptr();
            (*pdrv).probe = Some(Self::probe_callback);
            (*pdrv).remove = Some(Self::remove_callback);
            (*pdrv).id_table = T::ID_TABLE.as_ptr();
            (*pdrv).err_handler = ptr::addr_of!(bindings::vfio_pci_core_err_handlers);
            (*pdrv).driver_managed_dma = true;
        }
        // SAFETY: `pdrv` is valid and stays pinned until `unregister`.
        to_result(unsafe {
            bindings::__pci_register_driver(pdrv, module.as_ptr(), name.as_char_ptr())
        })
    }

    unsafe fn unregister(pdrv: &Opaque<Self::DriverType>) {
        // SAFETY: `pdrv` was registered by `register`.
        unsafe { bindings::pci_unregister_driver(pdrv.get()) }
    }
}

impl<T: Driver> Adapter<T> {
    extern "C" fn probe_callback(
        pdev: *mut bindings::pci_dev,
        _id: *const bindings::pci_device_id,
    ) -> c_int {
        // SAFETY: The PCI core passes a device that it is probing: bound to this driver for the
        // call.
        let (pci_dev, dev) = unsafe {
            (
                &*pdev.cast::<pci::Device<device::Core<'_>>>(),
                device::Device::<device::Bound>::from_raw(ptr::addr_of_mut!((*pdev).dev)),
            )
        };
        from_result(|| {
            let vdev = Device::<T>::new(dev, T::probe(pci_dev))?;
            let raw = vdev.as_raw();
            // SAFETY: The device is probing; vfio-pci-core finds its device in the driver data.
            unsafe { bindings::dev_set_drvdata(dev.as_raw(), raw.cast()) };
            match Registered::new(
                dev,
                raw,
                (register, unregister),
                this_module::<T::OwnerModule>(),
            ) {
                Ok(registered) => {
                    // SAFETY: `probe` and `remove` are the only users of the slot, and the
                    // driver core serialises them.
                    unsafe { *vdev.bus_registration.get() = Some(registered) };
                    Ok(0)
                }
                Err(e) => {
                    // SAFETY: The probe fails: the driver data goes, as `remove` clears it.
                    unsafe { bindings::dev_set_drvdata(dev.as_raw(), ptr::null_mut()) };
                    Err(e)
                }
            }
        })
    }

    extern "C" fn remove_callback(pdev: *mut bindings::pci_dev) {
        // SAFETY: The PCI core passes a device whose probe succeeded, so its driver data is the
        // VFIO device `probe` registered.
        let registered = unsafe {
            let vdev = bindings::dev_get_drvdata(ptr::addr_of_mut!((*pdev).dev));
            let dev = Device::<T>::from_raw(vdev.cast());
            (*dev.bus_registration.get()).take()
        };
        // Unregistering waits until user space has closed the device; the registration's
        // reference to the device may be the last.
        drop(registered);
        // SAFETY: The device is unbinding; nothing uses its driver data any more.
        unsafe { bindings::dev_set_drvdata(ptr::addr_of_mut!((*pdev).dev), ptr::null_mut()) };
    }
}

/// Declares a kernel module with one vfio-pci variant driver, a [`Driver`].
///
/// # Examples
///
/// ```ignore
/// kernel::module_vfio_pci_driver! {
///     type: MyDriver,
///     name: "my_vfio_pci",
///     authors: ["..."],
///     description: "A vfio-pci variant driver",
///     license: "GPL v2",
/// }
/// ```
#[macro_export]
macro_rules! module_vfio_pci_driver {
    ($($f:tt)*) => {
        $crate::module_driver!(<T>, $crate::vfio::pci::Adapter<T>, { $($f)* });
    };
}
