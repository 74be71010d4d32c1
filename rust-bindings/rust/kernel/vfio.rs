// SPDX-License-Identifier: GPL-2.0

//! VFIO devices and their iommufd callbacks.
//!
//! C header: [`include/linux/vfio.h`](srctree/include/linux/vfio.h)
//!
//! A VFIO driver hands a device to user space. With iommufd, user space binds the device to an
//! iommufd context and attaches it to IOMMU page tables (an IOAS, or an HWPT) through four
//! callbacks of `struct vfio_device_ops`: `bind_iommufd`, `unbind_iommufd`, `attach_ioas` and
//! `detach_ioas`. Their contract is written down in `Documentation/driver-api/vfio.rst` and
//! checked by the `vfio_iommufd` KUnit suite. This module puts its rules into types:
//!
//! - A driver implements [`Driver`]. Its [`Driver::Iommu`] type, [`Physical`] or [`Emulated`],
//!   wires all four iommufd callbacks to the VFIO core's helpers for that kind of device, so
//!   none can be missing (the C core refuses a device without all four).
//! - A driver may override callbacks. Overriding `attach_ioas` without `detach_ioas`, or
//!   `bind_iommufd` without `unbind_iommufd`, or the reverse, does not compile.
//! - The iommufd callbacks receive a [`Locked`] device: proof that `dev_set->lock` is held. The
//!   helpers of [`IommuKind`], which an override can delegate to, only take a [`Locked`] device
//!   of a driver of their own kind.
//! - `attach_ioas` receives its page table id as a [`PtId`], read on entry, written back on
//!   success.
//! - `read` and `write` receive an [`Open`] device: the VFIO core only calls them while user
//!   space has the device open and bound. DMA through the CPU (`vfio_dma_rw`,
//!   `vfio_pin_pages`) is a method of an [`Open`] device of an [`Emulated`] driver only, and
//!   a pinned page is unpinned when its [`PinnedPage`] is dropped, before the callback returns.
//! - [`Registration`] allocates and registers a device, and unregisters it when dropped.

use crate::{
    bindings, build_assert, build_error, device,
    error::{code::*, from_err_ptr, from_result, to_result, Error, Result, VTABLE_DEFAULT_ERROR},
    str::CStr,
    types::{ARef, AlwaysRefCounted, Opaque},
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
};
use core::{
    ffi::c_int,
    marker::PhantomData,
    mem,
    ops::Deref,
    ptr::{self, NonNull},
};
use macros::vtable;

/// An iommufd context, as user space opened it from `/dev/iommu`.
#[repr(transparent)]
pub struct IommufdCtx(Opaque<bindings::iommufd_ctx>);

impl IommufdCtx {
    /// Returns the raw `struct iommufd_ctx` pointer.
    pub fn as_raw(&self) -> *mut bindings::iommufd_ctx {
        self.0.get()
    }

    /// Returns the context behind a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live `struct iommufd_ctx` for the lifetime `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::iommufd_ctx) -> &'a Self {
        // SAFETY: `IommufdCtx` is a transparent wrapper of `struct iommufd_ctx`, and the caller
        // guarantees that it lives for `'a`.
        unsafe { &*ptr.cast() }
    }
}

/// The page table id of `attach_ioas`: in, the IOAS or HWPT user space asked for; out, on
/// success, the page table the device is attached to.
///
/// A physical device attached to an IOAS gets an automatic HWPT, whose id is written back; an
/// emulated device is attached to the IOAS itself.
#[repr(transparent)]
pub struct PtId(u32);

impl PtId {
    /// Returns the id.
    pub fn get(&self) -> u32 {
        self.0
    }

    /// Sets the id to write back.
    pub fn set(&mut self, id: u32) {
        self.0 = id;
    }

    fn as_raw(&mut self) -> *mut u32 {
        &mut self.0
    }

    /// Returns the id behind a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid for reads and writes, and not used otherwise, for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut u32) -> &'a mut Self {
        // SAFETY: `PtId` is a transparent wrapper of `u32`, and the caller guarantees exclusive
        // access for `'a`.
        unsafe { &mut *ptr.cast() }
    }
}

/// A VFIO device of driver `T`: a `struct vfio_device`, followed by the driver's data.
///
/// # Invariants
///
/// `vdev` starts an allocation made by `_vfio_alloc_device` with `T`'s vtable, in which `parent`
/// (the device `vdev.dev` points to) and `data` are initialised. It lives until the last
/// reference to `vdev.device` is dropped, whose release drops `data`, then `parent`.
#[repr(C)]
pub struct Device<T: Driver> {
    vdev: Opaque<bindings::vfio_device>,
    parent: ARef<device::Device>,
    data: T::Data,
}

impl<T: Driver> Device<T> {
    /// Allocates a device whose parent is `parent`.
    fn new(parent: &device::Device, data: T::Data) -> Result<ARef<Self>> {
        // `_vfio_alloc_device` aligns its allocation for a `struct vfio_device` only.
        build_assert!(mem::align_of::<Self>() <= mem::align_of::<bindings::vfio_device>());

        // SAFETY: `parent` is a live device, `Self` starts with a `struct vfio_device` and the
        // vtable is a static.
        let vdev = from_err_ptr(unsafe {
            bindings::_vfio_alloc_device(
                mem::size_of::<Self>(),
                parent.as_raw(),
                VTable::<T>::build(),
            )
        })?;
        let this = vdev.cast::<Self>();

        // SAFETY: The allocation is at least `size_of::<Self>()` bytes and suitably aligned (see
        // above); nothing reads `parent` or `data` before these writes. The C core keeps no
        // reference to the parent of a device it has not registered, so the device keeps one.
        unsafe {
            ptr::addr_of_mut!((*this).parent).write(parent.into());
            ptr::addr_of_mut!((*this).data).write(data);
        }

        // INVARIANT: `vdev` was allocated with `T`'s vtable, `parent` and `data` are initialised.
        // SAFETY: `_vfio_alloc_device` returned the device with one reference, which the `ARef`
        // takes over.
        Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(this)) })
    }

    /// Returns the raw `struct vfio_device` pointer.
    pub fn as_raw(&self) -> *mut bindings::vfio_device {
        self.vdev.get()
    }

    /// Returns the driver's data.
    pub fn data(&self) -> &T::Data {
        &self.data
    }

    /// Returns the device this VFIO device stands for.
    pub fn parent(&self) -> &device::Device {
        &self.parent
    }

    /// Returns whether the device is attached to a page table.
    pub fn iommufd_attached(&self) -> bool {
        // SAFETY: The device is live; the flag is only changed under `dev_set->lock`.
        unsafe { (*self.as_raw()).iommufd_attached() != 0 }
    }

    /// Returns the device of driver `T` behind a raw pointer.
    ///
    /// # Safety
    ///
    /// `vdev` must be a live device allocated by [`Device::new`] for `T`, for `'a`.
    unsafe fn from_raw<'a>(vdev: *mut bindings::vfio_device) -> &'a Self {
        // SAFETY: By the type invariants, `vdev` starts a `Device<T>`.
        unsafe { &*vdev.cast() }
    }
}

// SAFETY: The C side may use the device from any thread, and the driver's data is `Send + Sync`.
unsafe impl<T: Driver> Send for Device<T> {}

// SAFETY: See `Send`: shared references only give access to `Sync` data.
unsafe impl<T: Driver> Sync for Device<T> {}

// SAFETY: The reference count of a `struct vfio_device` is that of its embedded `struct device`.
unsafe impl<T: Driver> AlwaysRefCounted for Device<T> {
    fn inc_ref(&self) {
        // SAFETY: The device is live, so its reference count is not zero.
        unsafe { bindings::get_device(ptr::addr_of_mut!((*self.as_raw()).device)) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it owns.
        unsafe { bindings::vfio_put_device(obj.as_ptr().cast()) }
    }
}

/// A [`Device`] whose `dev_set->lock` is held, as the VFIO core holds it around every iommufd
/// callback.
///
/// # Invariants
///
/// The `dev_set->lock` of `dev` is held for `'a`.
pub struct Locked<'a, T: Driver> {
    dev: &'a Device<T>,
}

impl<'a, T: Driver> Locked<'a, T> {
    /// Wraps `dev`, checking with lockdep that its `dev_set->lock` is held.
    ///
    /// # Safety
    ///
    /// The `dev_set->lock` of `dev` must be held for `'a`.
    unsafe fn new(dev: &'a Device<T>) -> Self {
        // SAFETY: `dev` is live.
        unsafe { bindings::vfio_device_assert_dev_set_locked(dev.as_raw()) };
        // INVARIANT: The caller holds the lock.
        Self { dev }
    }
}

impl<T: Driver> Deref for Locked<'_, T> {
    type Target = Device<T>;

    fn deref(&self) -> &Device<T> {
        self.dev
    }
}

/// A [`Device`] that user space has open and bound, as it is while the VFIO core calls
/// [`Driver::read`] and [`Driver::write`].
///
/// # Invariants
///
/// `dev` is open (bound to an iommufd context, its `open_device` done) for `'a`.
pub struct Open<'a, T: Driver> {
    dev: &'a Device<T>,
}

impl<'a, T: Driver> Open<'a, T> {
    /// Wraps `dev`.
    ///
    /// # Safety
    ///
    /// `dev` must be open for `'a`.
    unsafe fn new(dev: &'a Device<T>) -> Self {
        // INVARIANT: The caller guarantees that the device is open.
        Self { dev }
    }
}

impl<T: Driver> Deref for Open<'_, T> {
    type Target = Device<T>;

    fn deref(&self) -> &Device<T> {
        self.dev
    }
}

impl<T: Driver<Iommu = Emulated>> Open<'_, T> {
    /// Reads `data.len()` bytes of the IOAS the device is attached to, at `iova`
    /// (`vfio_dma_rw`). Fails with `ENOENT` when the device is not attached.
    pub fn dma_read(&self, iova: u64, data: &mut [u8]) -> Result {
        // SAFETY: The device is open, `data` is valid for writes of its length.
        to_result(unsafe {
            bindings::vfio_dma_rw(
                self.as_raw(),
                iova,
                data.as_mut_ptr().cast(),
                data.len(),
                false,
            )
        })
    }

    /// Writes `data` to the IOAS the device is attached to, at `iova` (`vfio_dma_rw`). Fails
    /// with `ENOENT` when the device is not attached.
    pub fn dma_write(&self, iova: u64, data: &[u8]) -> Result {
        // SAFETY: The device is open, `data` is valid for reads of its length; with `write`
        // set, `vfio_dma_rw` only reads it.
        to_result(unsafe {
            bindings::vfio_dma_rw(
                self.as_raw(),
                iova,
                data.as_ptr().cast_mut().cast(),
                data.len(),
                true,
            )
        })
    }

    /// Pins the page of the IOAS the device is attached to at `iova`, a multiple of the page
    /// size, for reading and, with `writable`, for writing (`vfio_pin_pages`). Fails with
    /// `ENOENT` when the device is not attached.
    pub fn pin_page(&self, iova: u64, writable: bool) -> Result<PinnedPage<'_, T>> {
        if iova % bindings::PAGE_SIZE as u64 != 0 {
            return Err(EINVAL);
        }
        let prot = bindings::IOMMU_READ | if writable { bindings::IOMMU_WRITE } else { 0 };
        let mut page = ptr::null_mut();
        // SAFETY: The device is open, `page` is valid for writes of one page pointer.
        let ret =
            unsafe { bindings::vfio_pin_pages(self.as_raw(), iova, 1, prot as c_int, &mut page) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: `vfio_pin_pages` pinned one page, and returned it.
        Ok(PinnedPage {
            dev: self.dev,
            iova,
            page: NonNull::new(page).ok_or(EFAULT)?,
            writable,
        })
    }
}

/// A page of an IOAS pinned by [`Open::pin_page`], unpinned when dropped.
///
/// # Invariants
///
/// `page` is the page at `iova` of the IOAS `dev` is attached to, pinned for `dev` by
/// `vfio_pin_pages` (writable if `writable`), until `self` is dropped.
pub struct PinnedPage<'a, T: Driver> {
    dev: &'a Device<T>,
    iova: u64,
    page: NonNull<bindings::page>,
    writable: bool,
}

impl<T: Driver> PinnedPage<'_, T> {
    /// Runs `f` on the page, mapped; fails with `EINVAL` unless `[offset, offset + len)` is in
    /// the page.
    fn with_mapped(&self, offset: usize, len: usize, f: impl FnOnce(*mut u8)) -> Result {
        if offset.checked_add(len).ok_or(EINVAL)? > bindings::PAGE_SIZE {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariants, the page is pinned.
        let va = unsafe { bindings::kmap_local_page(self.page.as_ptr()) };
        // SAFETY: `va` maps the page, and `offset` is within it.
        f(unsafe { va.cast::<u8>().add(offset) });
        // SAFETY: `va` was mapped just above, and nothing else was mapped since.
        unsafe { bindings::kunmap_local(va) };
        Ok(())
    }

    /// Copies the bytes at `offset` of the page into `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        self.with_mapped(offset, out.len(), |src| {
            // SAFETY: `src` is valid for reads of `out.len()` bytes, which do not overlap `out`.
            unsafe { ptr::copy_nonoverlapping(src, out.as_mut_ptr(), out.len()) }
        })
    }

    /// Copies `data` into the page at `offset`; fails with `EPERM` if the page was not pinned
    /// writable.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        if !self.writable {
            return Err(EPERM);
        }
        self.with_mapped(offset, data.len(), |dst| {
            // SAFETY: `dst` is valid for writes of `data.len()` bytes, which do not overlap
            // `data`.
            unsafe { ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) }
        })
    }
}

impl<T: Driver> Drop for PinnedPage<'_, T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, the page at `iova` is pinned for the device.
        unsafe { bindings::vfio_unpin_pages(self.dev.as_raw(), self.iova, 1) };
    }
}

type BindFn =
    unsafe extern "C" fn(*mut bindings::vfio_device, *mut bindings::iommufd_ctx, *mut u32) -> c_int;
type AttachFn = unsafe extern "C" fn(*mut bindings::vfio_device, *mut u32) -> c_int;
type DeviceFn = unsafe extern "C" fn(*mut bindings::vfio_device);

mod private {
    pub trait Sealed {}
}

/// How a device reaches memory, which decides the VFIO core's iommufd helpers it uses and how it
/// registers: [`Physical`] or [`Emulated`].
///
/// A driver that overrides an iommufd callback can delegate to these helpers.
pub trait IommuKind: private::Sealed + Sized {
    #[doc(hidden)]
    const BIND: BindFn;
    #[doc(hidden)]
    const UNBIND: DeviceFn;
    #[doc(hidden)]
    const ATTACH: AttachFn;
    #[doc(hidden)]
    const DETACH: DeviceFn;

    #[doc(hidden)]
    /// Registers `vdev`.
    ///
    /// # Safety
    ///
    /// `vdev` must be an allocated, unregistered VFIO device.
    unsafe fn register(vdev: *mut bindings::vfio_device) -> c_int;

    /// The VFIO core's `bind_iommufd` for this kind of device.
    fn bind_iommufd<T: Driver<Iommu = Self>>(
        dev: &Locked<'_, T>,
        ictx: &IommufdCtx,
        out_device_id: &mut u32,
    ) -> Result {
        // SAFETY: `dev` is a live device of this kind whose `dev_set->lock` is held.
        to_result(unsafe { Self::BIND(dev.as_raw(), ictx.as_raw(), out_device_id) })
    }

    /// The VFIO core's `unbind_iommufd` for this kind of device.
    fn unbind_iommufd<T: Driver<Iommu = Self>>(dev: &Locked<'_, T>) {
        // SAFETY: `dev` is a live device of this kind whose `dev_set->lock` is held.
        unsafe { Self::UNBIND(dev.as_raw()) }
    }

    /// The VFIO core's `attach_ioas` for this kind of device.
    fn attach_ioas<T: Driver<Iommu = Self>>(dev: &Locked<'_, T>, pt_id: &mut PtId) -> Result {
        // SAFETY: `dev` is a live device of this kind whose `dev_set->lock` is held.
        to_result(unsafe { Self::ATTACH(dev.as_raw(), pt_id.as_raw()) })
    }

    /// The VFIO core's `detach_ioas` for this kind of device.
    fn detach_ioas<T: Driver<Iommu = Self>>(dev: &Locked<'_, T>) {
        // SAFETY: `dev` is a live device of this kind whose `dev_set->lock` is held.
        unsafe { Self::DETACH(dev.as_raw()) }
    }
}

/// A device behind an IOMMU: bound to iommufd as an `iommufd_device`, attached to IOMMU page
/// tables, registered with `vfio_register_group_dev`.
pub enum Physical {}

impl private::Sealed for Physical {}

impl IommuKind for Physical {
    const BIND: BindFn = bindings::vfio_iommufd_physical_bind;
    const UNBIND: DeviceFn = bindings::vfio_iommufd_physical_unbind;
    const ATTACH: AttachFn = bindings::vfio_iommufd_physical_attach_ioas;
    const DETACH: DeviceFn = bindings::vfio_iommufd_physical_detach_ioas;

    unsafe fn register(vdev: *mut bindings::vfio_device) -> c_int {
        // SAFETY: The caller passes an allocated, unregistered device.
        unsafe { bindings::vfio_register_group_dev(vdev) }
    }
}

/// A device that reaches memory through the CPU (`vfio_pin_pages`, `vfio_dma_rw`): bound to
/// iommufd as an `iommufd_access`, attached to IOASes only, registered with
/// `vfio_register_emulated_iommu_dev`. iommufd calls [`Driver::dma_unmap`] whenever the access
/// leaves an IOAS.
pub enum Emulated {}

impl private::Sealed for Emulated {}

impl IommuKind for Emulated {
    const BIND: BindFn = bindings::vfio_iommufd_emulated_bind;
    const UNBIND: DeviceFn = bindings::vfio_iommufd_emulated_unbind;
    const ATTACH: AttachFn = bindings::vfio_iommufd_emulated_attach_ioas;
    const DETACH: DeviceFn = bindings::vfio_iommufd_emulated_detach_ioas;

    unsafe fn register(vdev: *mut bindings::vfio_device) -> c_int {
        // SAFETY: The caller passes an allocated, unregistered device.
        unsafe { bindings::vfio_register_emulated_iommu_dev(vdev) }
    }
}

/// A VFIO driver.
///
/// Every method is optional. The four iommufd callbacks default to the VFIO core's helpers for
/// [`Driver::Iommu`]; they are overridden in pairs (`bind_iommufd` with `unbind_iommufd`,
/// `attach_ioas` with `detach_ioas`), or the driver does not compile.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, prelude::*, vfio};
///
/// struct MyDriver;
///
/// #[vtable]
/// impl vfio::Driver for MyDriver {
///     type Data = ();
///     type Iommu = vfio::Physical;
///     const NAME: &'static CStr = c_str!("my-vfio");
/// }
/// ```
///
/// An override of `attach_ioas` comes with one of `detach_ioas`, and can delegate to the helpers
/// of its [`IommuKind`]:
///
/// ```
/// use kernel::{c_str, prelude::*, vfio, vfio::IommuKind};
///
/// struct Counting;
///
/// #[vtable]
/// impl vfio::Driver for Counting {
///     type Data = ();
///     type Iommu = vfio::Physical;
///     const NAME: &'static CStr = c_str!("counting-vfio");
///
///     fn attach_ioas(dev: &vfio::Locked<'_, Self>, pt_id: &mut vfio::PtId) -> Result {
///         pr_info!("attaching to {}\n", pt_id.get());
///         vfio::Physical::attach_ioas(dev, pt_id)
///     }
///
///     fn detach_ioas(dev: &vfio::Locked<'_, Self>) {
///         vfio::Physical::detach_ioas(dev)
///     }
/// }
/// ```
#[vtable]
pub trait Driver: Sized + 'static {
    /// The driver's data, stored in the [`Device`].
    type Data: Send + Sync;

    /// How the device reaches memory: [`Physical`] or [`Emulated`].
    type Iommu: IommuKind;

    /// The driver's name (`vfio_device_ops.name`).
    const NAME: &'static CStr;

    /// Prepares the device for user space, when it opens the device.
    fn open_device(_dev: &Device<Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Undoes [`Driver::open_device`], when user space closes the device.
    fn close_device(_dev: &Device<Self>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Binds the device to `ictx`; on success, `out_device_id` is the id of the new iommufd
    /// object.
    fn bind_iommufd(
        _dev: &Locked<'_, Self>,
        _ictx: &IommufdCtx,
        _out_device_id: &mut u32,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Undoes [`Driver::bind_iommufd`], detaching the device first if it is attached.
    fn unbind_iommufd(_dev: &Locked<'_, Self>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Attaches the device to the page table `pt_id` names, or replaces the one it is attached
    /// to; writes back the id of the page table it is attached to.
    fn attach_ioas(_dev: &Locked<'_, Self>, _pt_id: &mut PtId) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Detaches the device; does nothing if it is not attached.
    fn detach_ioas(_dev: &Locked<'_, Self>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Unpins whatever the driver pinned in `[iova, iova + length)`: the range is unmapped.
    fn dma_unmap(_dev: &Device<Self>, _iova: u64, _length: u64) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reads from the device file at `offset` into `buf`; returns the number of bytes read.
    fn read(_dev: &Open<'_, Self>, _buf: UserSliceWriter, _offset: u64) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Writes `buf` to the device file at `offset`; returns the number of bytes written.
    fn write(_dev: &Open<'_, Self>, _buf: UserSliceReader, _offset: u64) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A registered [`Device`]: user space can find and open it until this is dropped.
///
/// # Invariants
///
/// `dev` is registered with the VFIO core, once, until `self` is dropped.
pub struct Registration<T: Driver> {
    dev: ARef<Device<T>>,
}

impl<T: Driver> Registration<T> {
    /// Allocates a device of driver `T` with `data`, whose parent is `parent`, and registers it
    /// as its [`Driver::Iommu`] kind requires.
    pub fn new(parent: &device::Device, data: T::Data) -> Result<Self> {
        let dev = Device::<T>::new(parent, data)?;
        // SAFETY: `dev` was just allocated and is not registered.
        to_result(unsafe { T::Iommu::register(dev.as_raw()) })?;
        // INVARIANT: `dev` was registered just now.
        Ok(Self { dev })
    }

    /// Returns the registered device.
    pub fn device(&self) -> &ARef<Device<T>> {
        &self.dev
    }
}

impl<T: Driver> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: The device was registered in `new`, and is unregistered once, here.
        unsafe { bindings::vfio_unregister_group_dev(self.dev.as_raw()) };
    }
}

struct VTable<T: Driver>(PhantomData<T>);

impl<T: Driver> VTable<T> {
    /// The pairs of callbacks that are overridden together or not at all.
    const PAIRED: () = {
        assert!(
            T::HAS_ATTACH_IOAS == T::HAS_DETACH_IOAS,
            "a vfio::Driver that overrides attach_ioas must override detach_ioas, and the reverse"
        );
        assert!(
            T::HAS_BIND_IOMMUFD == T::HAS_UNBIND_IOMMUFD,
            "a vfio::Driver that overrides bind_iommufd must override unbind_iommufd, and the \
             reverse"
        );
    };

    const VTABLE: bindings::vfio_device_ops = {
        #[allow(clippy::let_unit_value)]
        let () = Self::PAIRED;

        bindings::vfio_device_ops {
            name: T::NAME.as_char_ptr().cast_mut(),
            init: None,
            release: Some(Self::release_callback),
            bind_iommufd: Some(if T::HAS_BIND_IOMMUFD {
                Self::bind_iommufd_callback
            } else {
                T::Iommu::BIND
            }),
            unbind_iommufd: Some(if T::HAS_UNBIND_IOMMUFD {
                Self::unbind_iommufd_callback
            } else {
                T::Iommu::UNBIND
            }),
            attach_ioas: Some(if T::HAS_ATTACH_IOAS {
                Self::attach_ioas_callback
            } else {
                T::Iommu::ATTACH
            }),
            detach_ioas: Some(if T::HAS_DETACH_IOAS {
                Self::detach_ioas_callback
            } else {
                T::Iommu::DETACH
            }),
            open_device: if T::HAS_OPEN_DEVICE {
                Some(Self::open_device_callback)
            } else {
                None
            },
            close_device: if T::HAS_CLOSE_DEVICE {
                Some(Self::close_device_callback)
            } else {
                None
            },
            read: if T::HAS_READ {
                Some(Self::read_callback)
            } else {
                None
            },
            write: if T::HAS_WRITE {
                Some(Self::write_callback)
            } else {
                None
            },
            ioctl: None,
            mmap: None,
            request: None,
            match_: None,
            dma_unmap: if T::HAS_DMA_UNMAP {
                Some(Self::dma_unmap_callback)
            } else {
                None
            },
            device_feature: None,
        }
    };

    const fn build() -> &'static bindings::vfio_device_ops {
        &Self::VTABLE
    }

    /// # Safety
    ///
    /// Called by the VFIO core once, when the last reference to a device of `T` is gone.
    unsafe extern "C" fn release_callback(vdev: *mut bindings::vfio_device) {
        let this = vdev.cast::<Device<T>>();
        // SAFETY: `data` and `parent` were initialised in `Device::new` and nothing uses them any
        // more. The data may own the parent's registration, so it goes first.
        unsafe {
            ptr::drop_in_place(ptr::addr_of_mut!((*this).data));
            ptr::drop_in_place(ptr::addr_of_mut!((*this).parent));
        }
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T`, with `dev_set->lock` held.
    unsafe extern "C" fn bind_iommufd_callback(
        vdev: *mut bindings::vfio_device,
        ictx: *mut bindings::iommufd_ctx,
        out_device_id: *mut u32,
    ) -> c_int {
        // SAFETY: The VFIO core passes a live device of `T` and holds its `dev_set->lock`.
        let dev = unsafe { Locked::new(Device::<T>::from_raw(vdev)) };
        // SAFETY: The VFIO core passes a live context.
        let ictx = unsafe { IommufdCtx::from_raw(ictx) };
        // SAFETY: `out_device_id` is valid for writes for the call.
        let out_device_id = unsafe { &mut *out_device_id };
        from_result(|| {
            T::bind_iommufd(&dev, ictx, out_device_id)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T`, with `dev_set->lock` held.
    unsafe extern "C" fn unbind_iommufd_callback(vdev: *mut bindings::vfio_device) {
        // SAFETY: The VFIO core passes a live device of `T` and holds its `dev_set->lock`.
        let dev = unsafe { Locked::new(Device::<T>::from_raw(vdev)) };
        T::unbind_iommufd(&dev);
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T`, with `dev_set->lock` held.
    unsafe extern "C" fn attach_ioas_callback(
        vdev: *mut bindings::vfio_device,
        pt_id: *mut u32,
    ) -> c_int {
        // SAFETY: The VFIO core passes a live device of `T` and holds its `dev_set->lock`.
        let dev = unsafe { Locked::new(Device::<T>::from_raw(vdev)) };
        // SAFETY: `pt_id` is valid for reads and writes for the call.
        let pt_id = unsafe { PtId::from_raw(pt_id) };
        from_result(|| {
            T::attach_ioas(&dev, pt_id)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T`, with `dev_set->lock` held.
    unsafe extern "C" fn detach_ioas_callback(vdev: *mut bindings::vfio_device) {
        // SAFETY: The VFIO core passes a live device of `T` and holds its `dev_set->lock`.
        let dev = unsafe { Locked::new(Device::<T>::from_raw(vdev)) };
        T::detach_ioas(&dev);
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T`.
    unsafe extern "C" fn open_device_callback(vdev: *mut bindings::vfio_device) -> c_int {
        // SAFETY: The VFIO core passes a live device of `T`.
        let dev = unsafe { Device::<T>::from_raw(vdev) };
        from_result(|| {
            T::open_device(dev)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T`.
    unsafe extern "C" fn close_device_callback(vdev: *mut bindings::vfio_device) {
        // SAFETY: The VFIO core passes a live device of `T`.
        T::close_device(unsafe { Device::<T>::from_raw(vdev) });
    }

    /// # Safety
    ///
    /// Called by iommufd, through the VFIO core, for a live device of `T`.
    unsafe extern "C" fn dma_unmap_callback(
        vdev: *mut bindings::vfio_device,
        iova: u64,
        length: u64,
    ) {
        // SAFETY: The VFIO core passes a live device of `T`.
        T::dma_unmap(unsafe { Device::<T>::from_raw(vdev) }, iova, length);
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T` that user space has open and bound,
    /// with `buf` a user pointer of `count` bytes and `ppos` valid for reads and writes.
    unsafe extern "C" fn read_callback(
        vdev: *mut bindings::vfio_device,
        buf: *mut u8,
        count: usize,
        ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: The VFIO core passes a live device of `T` that is open.
        let dev = unsafe { Open::new(Device::<T>::from_raw(vdev)) };
        let writer = UserSlice::new(buf as usize, count).writer();
        // SAFETY: `ppos` is valid for reads and writes for the call.
        unsafe { Self::advance(ppos, |offset| T::read(&dev, writer, offset)) }
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T` that user space has open and bound,
    /// with `buf` a user pointer of `count` bytes and `ppos` valid for reads and writes.
    unsafe extern "C" fn write_callback(
        vdev: *mut bindings::vfio_device,
        buf: *const u8,
        count: usize,
        ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: The VFIO core passes a live device of `T` that is open.
        let dev = unsafe { Open::new(Device::<T>::from_raw(vdev)) };
        let reader = UserSlice::new(buf as usize, count).reader();
        // SAFETY: `ppos` is valid for reads and writes for the call.
        unsafe { Self::advance(ppos, |offset| T::write(&dev, reader, offset)) }
    }

    /// Runs a read or write `op` at `*ppos`, which it advances by the bytes done.
    ///
    /// # Safety
    ///
    /// `ppos` must be valid for reads and writes.
    unsafe fn advance(ppos: *mut bindings::loff_t, op: impl FnOnce(u64) -> Result<usize>) -> isize {
        // SAFETY: The caller guarantees that `ppos` is valid for reads.
        let pos = unsafe { *ppos };
        let done = u64::try_from(pos)
            .map_err(|_| EINVAL)
            .and_then(op)
            .and_then(|n| Ok((n, pos.checked_add(n.try_into()?).ok_or(EINVAL)?)));
        match done {
            Ok((n, end)) => {
                // SAFETY: The caller guarantees that `ppos` is valid for writes.
                unsafe { *ppos = end };
                n as isize
            }
            Err(e) => e.to_errno() as isize,
        }
    }
}

/// Devices for samples and tests, on iommufd's mock IOMMU (`CONFIG_IOMMUFD_TEST`).
#[cfg(all(CONFIG_IOMMUFD_TEST, CONFIG_KUNIT))]
pub mod testing {
    use super::*;
    use crate::{alloc::flags::GFP_KERNEL, alloc::KBox, ThisModule};
    use core::pin::Pin;

    /// A driver on iommufd's mock bus, to which the [`MockDevice`]s that name it bind: the
    /// driver of the devices a [`Physical`] sample stands for. Opening a VFIO device pins the
    /// module of its parent's driver, so it belongs to the sample's module. Unregistered when
    /// dropped; it has no bind attributes in sysfs, so that nobody unbinds an open device.
    ///
    /// # Invariants
    ///
    /// `drv` is registered with `iommufd_test_mock_driver_register` until `self` is dropped.
    pub struct MockDriver {
        drv: Pin<KBox<Opaque<bindings::device_driver>>>,
    }

    impl MockDriver {
        /// Registers a driver named `name` for `module`.
        pub fn register(name: &'static CStr, module: &'static ThisModule) -> Result<Self> {
            // SAFETY: All zeroes is a valid `device_driver`: no callbacks, no bus yet.
            let drv = KBox::pin(Opaque::new(unsafe { mem::zeroed() }), GFP_KERNEL)?;
            let raw: *mut bindings::device_driver = drv.get();
            // SAFETY: `raw` is valid and not registered yet; `name` outlives the driver.
            to_result(unsafe {
                (*raw).name = name.as_char_ptr();
                (*raw).owner = module.as_ptr();
                (*raw).suppress_bind_attrs = true;
                bindings::iommufd_test_mock_driver_register(raw)
            })?;
            // INVARIANT: The driver was registered just now.
            Ok(Self { drv })
        }
    }

    impl Drop for MockDriver {
        fn drop(&mut self) {
            // SAFETY: By the type invariants, the driver is registered.
            unsafe { bindings::iommufd_test_mock_driver_unregister(self.drv.get()) };
        }
    }

    // SAFETY: The driver can be unregistered from any thread.
    unsafe impl Send for MockDriver {}

    // SAFETY: `&MockDriver` gives access to nothing.
    unsafe impl Sync for MockDriver {}

    /// A platform driver, to which the [`PlainDevice`]s of its name bind: the driver of the
    /// devices an [`Emulated`] sample stands for. As [`MockDriver`], it belongs to the sample's
    /// module, has no bind attributes and is unregistered when dropped.
    ///
    /// # Invariants
    ///
    /// `drv` is registered with `__platform_driver_register` until `self` is dropped.
    pub struct PlainDriver {
        drv: Pin<KBox<Opaque<bindings::platform_driver>>>,
    }

    impl PlainDriver {
        /// Registers a platform driver named `name` for `module`.
        pub fn register(name: &'static CStr, module: &'static ThisModule) -> Result<Self> {
            // SAFETY: All zeroes is a valid `platform_driver`: no callbacks, no id table.
            let drv = KBox::pin(Opaque::new(unsafe { mem::zeroed() }), GFP_KERNEL)?;
            let raw: *mut bindings::platform_driver = drv.get();
            // SAFETY: `raw` is valid and not registered yet; `name` outlives the driver.
            to_result(unsafe {
                (*raw).driver.name = name.as_char_ptr();
                (*raw).driver.suppress_bind_attrs = true;
                (*raw).driver_managed_dma = true;
                bindings::__platform_driver_register(raw, module.as_ptr())
            })?;
            // INVARIANT: The driver was registered just now.
            Ok(Self { drv })
        }
    }

    impl Drop for PlainDriver {
        fn drop(&mut self) {
            // SAFETY: By the type invariants, the driver is registered.
            unsafe { bindings::platform_driver_unregister(self.drv.get()) };
        }
    }

    // SAFETY: The driver can be unregistered from any thread.
    unsafe impl Send for PlainDriver {}

    // SAFETY: `&PlainDriver` gives access to nothing.
    unsafe impl Sync for PlainDriver {}

    /// A device behind iommufd's mock IOMMU, in an iommu group: a parent for [`Physical`]
    /// devices. Destroyed when dropped.
    ///
    /// # Invariants
    ///
    /// `dev` was returned by `iommufd_test_mock_dev_create` and is not destroyed yet.
    pub struct MockDevice {
        dev: NonNull<bindings::device>,
    }

    impl MockDevice {
        /// Creates a mock device in an iommu group of its own, or in that of `group_peer`, a
        /// parent of another [`Physical`] device, bound to the [`MockDriver`] named `driver`;
        /// fails with `ENODEV` if that is not registered.
        pub fn new<T: Driver<Iommu = Physical>>(
            driver: &'static CStr,
            group_peer: Option<&Device<T>>,
        ) -> Result<Self> {
            let peer = group_peer.map_or(ptr::null_mut(), |p| p.parent().as_raw());
            // SAFETY: `peer` is null or a live device, `driver` a string.
            let dev = from_err_ptr(unsafe {
                bindings::iommufd_test_mock_dev_create(0, peer, driver.as_char_ptr())
            })?;
            // INVARIANT: `dev` was just created.
            Ok(Self {
                // SAFETY: `from_err_ptr` passed a pointer that is not an error; it is not null.
                dev: unsafe { NonNull::new_unchecked(dev) },
            })
        }

        /// Returns the device.
        pub fn device(&self) -> &device::Device {
            // SAFETY: By the type invariants, the device lives as long as `self`.
            unsafe { device::Device::as_ref(self.dev.as_ptr()) }
        }
    }

    impl Drop for MockDevice {
        fn drop(&mut self) {
            // SAFETY: By the type invariants, the device was created and not destroyed yet.
            unsafe { bindings::iommufd_test_mock_dev_destroy(self.dev.as_ptr()) };
        }
    }

    // SAFETY: The mock device can be destroyed from any thread.
    unsafe impl Send for MockDevice {}

    // SAFETY: `&MockDevice` only gives out a `&device::Device`, which is `Sync`.
    unsafe impl Sync for MockDevice {}

    /// A platform device in no iommu group: a parent for [`Emulated`] devices. Unregistered
    /// when dropped.
    ///
    /// # Invariants
    ///
    /// `pdev` was returned by `platform_device_register_simple` and is not unregistered yet.
    pub struct PlainDevice {
        pdev: NonNull<bindings::platform_device>,
    }

    impl PlainDevice {
        /// Registers a platform device named `name.N`, with a unique `N`, bound to the
        /// [`PlainDriver`] named `name`; fails with `ENODEV` if that is not registered.
        pub fn new(name: &'static CStr) -> Result<Self> {
            // SAFETY: All zeroes is a valid `platform_device_info`: no resources, no data.
            let mut info: bindings::platform_device_info = unsafe { mem::zeroed() };
            info.name = name.as_char_ptr();
            info.id = bindings::PLATFORM_DEVID_AUTO;
            // SAFETY: `info` is valid, and `name` outlives the device.
            let pdev = from_err_ptr(unsafe { bindings::platform_device_register_full(&info) })?;
            // INVARIANT: `pdev` was just registered.
            let this = Self {
                // SAFETY: `from_err_ptr` passed a pointer that is not an error; it is not null.
                pdev: unsafe { NonNull::new_unchecked(pdev) },
            };
            let dev = this.device().as_raw();
            // SAFETY: `dev` is live; `device_is_bound` is called with its lock held.
            let bound = unsafe {
                bindings::mutex_lock(ptr::addr_of_mut!((*dev).mutex));
                let bound = bindings::device_is_bound(dev);
                bindings::mutex_unlock(ptr::addr_of_mut!((*dev).mutex));
                bound
            };
            if !bound {
                return Err(ENODEV);
            }
            Ok(this)
        }

        /// Returns the device.
        pub fn device(&self) -> &device::Device {
            // SAFETY: By the type invariants, the device lives as long as `self`.
            unsafe { device::Device::as_ref(ptr::addr_of_mut!((*self.pdev.as_ptr()).dev)) }
        }
    }

    impl Drop for PlainDevice {
        fn drop(&mut self) {
            // SAFETY: By the type invariants, the device is registered.
            unsafe { bindings::platform_device_unregister(self.pdev.as_ptr()) };
        }
    }

    // SAFETY: The platform device can be unregistered from any thread.
    unsafe impl Send for PlainDevice {}

    // SAFETY: `&PlainDevice` only gives out a `&device::Device`, which is `Sync`.
    unsafe impl Sync for PlainDevice {}

    /// A driver that the C KUnit suite `vfio_iommufd` can make devices of, through the
    /// functions [`vfio_test_factory!`](crate::vfio_test_factory) generates.
    pub trait TestDriver: Driver {
        /// Creates and registers a device; `group_peer` asks for one in the iommu group of
        /// another.
        fn create(group_peer: Option<&Device<Self>>) -> Result<Registration<Self>>;

        /// The number of `dma_unmap` calls so far, and the `(iova, length)` of the last one.
        fn unmaps(_dev: &Device<Self>) -> (u32, u64, u64) {
            (0, 0, 0)
        }
    }

    /// Creates a device for the C suite; the returned pointer owns its [`Registration`].
    ///
    /// # Safety
    ///
    /// `group_peer` must be null or a device from this function for `T`, not yet destroyed.
    pub unsafe fn create<T: TestDriver>(
        group_peer: *mut bindings::vfio_device,
    ) -> *mut bindings::vfio_device {
        // SAFETY: `group_peer` is null or a live device of `T`.
        let peer = (!group_peer.is_null()).then(|| unsafe { Device::<T>::from_raw(group_peer) });
        match T::create(peer) {
            Ok(reg) => {
                let vdev = reg.device().as_raw();
                // The registration is owned by the C caller until `destroy`.
                mem::forget(reg);
                vdev
            }
            Err(e) => e.to_ptr(),
        }
    }

    /// Unregisters and drops a device from [`create`].
    ///
    /// # Safety
    ///
    /// `vdev` must come from [`create`] for `T`, and is not used afterwards.
    pub unsafe fn destroy<T: TestDriver>(vdev: *mut bindings::vfio_device) {
        // SAFETY: `vdev` is a live device of `T`; `create` forgot the `Registration` that owned
        // the registration and the reference, which are taken back here.
        let dev = unsafe { ARef::from_raw(NonNull::from(Device::<T>::from_raw(vdev))) };
        // INVARIANT: `vdev` is still registered: `create` forgot its `Registration`.
        drop(Registration { dev });
    }

    /// Reports the `dma_unmap` calls of a device from [`create`].
    ///
    /// # Safety
    ///
    /// `vdev` must be a live device from [`create`] for `T`; `last` null or valid for writes.
    pub unsafe fn unmaps<T: TestDriver>(
        vdev: *mut bindings::vfio_device,
        last: *mut [u64; 2],
    ) -> u32 {
        // SAFETY: `vdev` is a live device of `T`.
        let (count, iova, length) = T::unmaps(unsafe { Device::<T>::from_raw(vdev) });
        if !last.is_null() {
            // SAFETY: `last` is valid for writes.
            unsafe { last.write([iova, length]) };
        }
        count
    }
}

/// Generates the C functions through which the KUnit suite `vfio_iommufd` makes devices of a
/// [`testing::TestDriver`]: `create(group_peer)`, `destroy(vdev)` and `unmaps(vdev, last)`.
#[cfg(all(CONFIG_IOMMUFD_TEST, CONFIG_KUNIT))]
#[macro_export]
macro_rules! vfio_test_factory {
    ($driver:ty, $create:ident, $destroy:ident, $unmaps:ident) => {
        /// Creates a device for the `vfio_iommufd` KUnit suite.
        ///
        /// # Safety
        ///
        /// `group_peer` is null or a device from this function, not yet destroyed.
        #[no_mangle]
        pub unsafe extern "C" fn $create(
            group_peer: *mut $crate::bindings::vfio_device,
        ) -> *mut $crate::bindings::vfio_device {
            // SAFETY: Passed on to the caller.
            unsafe { $crate::vfio::testing::create::<$driver>(group_peer) }
        }

        /// Destroys a device from the create function.
        ///
        /// # Safety
        ///
        /// `vdev` comes from the create function and is not used afterwards.
        #[no_mangle]
        pub unsafe extern "C" fn $destroy(vdev: *mut $crate::bindings::vfio_device) {
            // SAFETY: Passed on to the caller.
            unsafe { $crate::vfio::testing::destroy::<$driver>(vdev) }
        }

        /// Reports the `dma_unmap` calls of a device from the create function.
        ///
        /// # Safety
        ///
        /// `vdev` is a live device from the create function, `last` null or writable.
        #[no_mangle]
        pub unsafe extern "C" fn $unmaps(
            vdev: *mut $crate::bindings::vfio_device,
            last: *mut [u64; 2],
        ) -> u32 {
            // SAFETY: Passed on to the caller.
            unsafe { $crate::vfio::testing::unmaps::<$driver>(vdev, last) }
        }
    };
}
