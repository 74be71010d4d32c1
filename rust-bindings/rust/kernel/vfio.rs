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
//! - A driver implements [`DeviceOps`]. Its [`DeviceOps::Iommu`] type, [`Physical`] or
//!   [`Emulated`], decides the VFIO core's helpers that bind, unbind, attach and detach the
//!   device. The abstraction calls them, each exactly once per callback: no driver code can skip
//!   one, call one twice or call one in the wrong state. A callback the driver does not override
//!   is the C helper itself in the ops table. A [`Physical`] device's PASID callbacks
//!   (`pasid_attach_ioas`, `pasid_detach_ioas`) are the VFIO core's helpers, with no hooks; an
//!   [`Emulated`] device has none.
//! - The iommufd methods of [`DeviceOps`] are hooks around those helpers. Overriding
//!   `attach_ioas` without `detach_ioas`, or `bind_iommufd` without `unbind_iommufd`, or the
//!   reverse, does not compile.
//! - The hooks receive a [`Locked`] device: proof that `dev_set->lock` is held. Whether the
//!   device is attached can only be read through it.
//! - `read` and `write` receive an [`Open`] device: the VFIO core only calls them while user
//!   space has the device open and bound. DMA through the CPU (`vfio_dma_rw`,
//!   `vfio_pin_pages`) is a method of an [`Open`] device of an [`Emulated`] driver only.
//! - A pinned page only exists inside [`Open::with_pinned_page`], which unpins it before it
//!   returns; `dma_unmap` returns only when every pin taken before iommufd called it is gone.
//!   So when `dma_unmap` returns, the driver holds no pin in the range, as iommufd requires.
//! - [`Registration`] allocates and registers a device, and unregisters it when dropped. Its
//!   parent must stay bound to a driver until then, which only the driver can guarantee, so
//!   [`Registration::new`] is `unsafe`.

use crate::{
    bindings,
    build_assert::build_assert,
    device,
    error::{code::*, from_err_ptr, from_result, to_result, Error, Result},
    ffi::{c_int, CStr},
    str::{as_char_ptr_in_const_context, CStrExt as _},
    sync::{
        aref::{ARef, AlwaysRefCounted},
        CondVar, Mutex, SpinLock,
    },
    types::Opaque,
    uaccess::{UserPtr, UserSlice, UserSliceReader, UserSliceWriter},
};
use core::{
    marker::PhantomData,
    mem,
    ops::Deref,
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};
use macros::vtable;
use pin_init::{pin_data, pin_init, PinInit};

/// The pins of a device's [`Open::with_pinned_page`] calls, which `dma_unmap` waits for.
///
/// Each pin counts in one of two slots, the one `epoch` selects. `dma_unmap` moves `epoch` on
/// and waits for the previous slot to empty: the pins it waits for started before it did, so
/// new pins cannot keep it waiting.
///
/// A pin reads `epoch`, counts itself in that epoch's slot, and reads `epoch` again. If the
/// epoch moved in between, a `dma_unmap` may have found the slot empty before the pin counted
/// in it and returned without waiting for it; and the next `dma_unmap`, which may be the one
/// of the pin's range, waits for the other slot only. So the pin uncounts itself (waking that
/// `dma_unmap` if it waits for the slot) and starts over. Only when both reads see the same
/// epoch does the pin go on, counted in the slot of the epoch that every later `dma_unmap`
/// flips first: all the operations on `epoch` and on the counts are sequentially consistent,
/// so they have one total order, in which the count comes before the second read, which comes
/// before the flip that moves `epoch` on (it read the value before that flip), which comes
/// before that `dma_unmap`'s reads of the count: it sees the pin, and waits for it. Later
/// `dma_unmap` calls wait for that one first (`unmap`), so for the pin too. `epoch` is a
/// `usize`, so reading the same value twice across a whole wrap of it is out of reach.
///
/// A pin that starts after a `dma_unmap` moved the epoch on is not waited for by it; it is not
/// in that `dma_unmap`'s range: iommufd makes pins of the range fail before it calls
/// `dma_unmap`.
///
/// A pin takes no lock: it adds and subtracts one, and takes `lock` only to wake a waiting
/// `dma_unmap` when it empties a slot. The order of `waiting` and the counts is sequentially
/// consistent too: a `dma_unmap` that finds the slot in use is seen waiting by the pin that
/// empties it, and waits under `lock` until it is woken.
#[pin_data]
struct PinTracker {
    epoch: AtomicUsize,
    live: [AtomicUsize; 2],
    waiting: AtomicBool,
    #[pin]
    lock: SpinLock<()>,
    #[pin]
    drained: CondVar,
    /// Serialises the waits of `dma_unmap`, so that a slot empties before it is reused.
    #[pin]
    unmap: Mutex<()>,
}

impl PinTracker {
    fn new() -> impl PinInit<Self> {
        // Lockdep knows a class by its key and the address of its name. The names are statics,
        // not the literals `new_mutex!()` and its kind take: a literal has a copy in each crate
        // this function is inlined into (a module using the abstractions, the doctests), and
        // lockdep WARNs at a key it sees with a second name.
        static PINS: &CStr = c"vfio::Device::pins";
        static PINS_DRAINED: &CStr = c"vfio::Device::pins_drained";
        static UNMAP: &CStr = c"vfio::Device::unmap";
        pin_init!(Self {
            epoch: AtomicUsize::new(0),
            live: [AtomicUsize::new(0), AtomicUsize::new(0)],
            waiting: AtomicBool::new(false),
            lock <- SpinLock::new((), PINS, crate::static_lock_class!()),
            drained <- CondVar::new(PINS_DRAINED, crate::static_lock_class!()),
            unmap <- Mutex::new((), UNMAP, crate::static_lock_class!()),
        })
    }

    /// Counts a pin that starts now; the pin ends when the returned value is dropped.
    fn enter(&self) -> PinSection<'_> {
        self.enter_with(|| {})
    }

    /// [`PinTracker::enter`], running `between` after the first read of the epoch and before
    /// the count, where a `dma_unmap` may flip the epoch: the tests force that interleaving.
    fn enter_with(&self, mut between: impl FnMut()) -> PinSection<'_> {
        loop {
            let epoch = self.epoch.load(Ordering::SeqCst);
            between();
            let slot = epoch % 2;
            self.live[slot].fetch_add(1, Ordering::SeqCst);
            if self.epoch.load(Ordering::SeqCst) == epoch {
                return PinSection {
                    tracker: self,
                    slot,
                };
            }
            // A `dma_unmap` flipped the epoch in between; it may be waiting for this slot.
            self.exit(slot);
        }
    }

    /// Uncounts a pin of `slot`, waking a `dma_unmap` waiting for the slot to empty.
    fn exit(&self, slot: usize) {
        if self.live[slot].fetch_sub(1, Ordering::SeqCst) == 1
            && self.waiting.load(Ordering::SeqCst)
        {
            let _guard = self.lock.lock();
            self.drained.notify_all();
        }
    }

    /// Waits until every pin that started before this call has ended.
    fn wait_for_pins(&self) {
        let _serial = self.unmap.lock();
        let slot = self.epoch.fetch_add(1, Ordering::SeqCst) % 2;
        let mut guard = self.lock.lock();
        self.waiting.store(true, Ordering::SeqCst);
        while self.live[slot].load(Ordering::SeqCst) != 0 {
            self.drained.wait(&mut guard);
        }
        self.waiting.store(false, Ordering::SeqCst);
    }

    /// Returns the number of pins the next `dma_unmap` waits for.
    #[cfg(all(CONFIG_IOMMUFD_TEST, CONFIG_KUNIT))]
    fn pins_for_next_unmap(&self) -> usize {
        self.live[self.epoch.load(Ordering::SeqCst) % 2].load(Ordering::SeqCst)
    }
}

/// A pin counted by a [`PinTracker`], from [`PinTracker::enter`] until dropped.
struct PinSection<'a> {
    tracker: &'a PinTracker,
    slot: usize,
}

impl Drop for PinSection<'_> {
    fn drop(&mut self) {
        self.tracker.exit(self.slot);
    }
}

/// A VFIO device of driver `T`: a `struct vfio_device`, followed by the driver's data.
///
/// # Invariants
///
/// `vdev` starts an allocation made by `_vfio_alloc_device` with `T`'s vtable, in which `parent`
/// (the device `vdev.dev` points to) and `pins` are initialised, and `data` is once
/// `data_ready` is set. It lives until the last reference to `vdev.device` is dropped, whose
/// release drops `data`, `pins`, then `parent`.
#[repr(C)]
pub struct Device<T: DeviceOps> {
    vdev: Opaque<bindings::vfio_device>,
    parent: ARef<device::Device>,
    pins: PinTracker,
    data: T::Data,
    data_ready: bool,
}

impl<T: DeviceOps> Device<T> {
    /// Allocates a device whose parent is `parent`, with its data initialised in place.
    fn new<E>(parent: &device::Device, data: impl PinInit<T::Data, E>) -> Result<ARef<Self>>
    where
        Error: From<E>,
    {
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

        // SAFETY: The allocation is at least `size_of::<Self>()` bytes, zeroed (so `data_ready`
        // is false) and suitably aligned (see above); nothing reads `parent` or `pins` before
        // these writes, and the allocation does not move. The C core keeps no reference to the
        // parent of a device it has not registered, so the device keeps one.
        unsafe {
            ptr::addr_of_mut!((*this).parent).write(parent.into());
            match PinTracker::new().__init(ptr::addr_of_mut!((*this).pins)) {
                Ok(()) => {}
                Err(infallible) => match infallible {},
            }
        }

        // INVARIANT: `vdev` was allocated with `T`'s vtable, `parent` and `pins` are
        // initialised, `data_ready` is not set.
        // SAFETY: `_vfio_alloc_device` returned the device with one reference, which the `ARef`
        // takes over. Dropping it releases the device, which drops `data` only if it is ready.
        let dev = unsafe { ARef::from_raw(NonNull::new_unchecked(this)) };

        // SAFETY: `data` is valid for writes, not initialised yet, and never moves. On failure
        // the initialiser leaves it uninitialised and `dev` is dropped with `data_ready` unset.
        unsafe { data.__init(ptr::addr_of_mut!((*this).data))? };
        // INVARIANT: `data` was just initialised.
        // SAFETY: Nothing else uses the device yet.
        unsafe { ptr::addr_of_mut!((*this).data_ready).write(true) };
        Ok(dev)
    }

    fn as_raw(&self) -> *mut bindings::vfio_device {
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

    /// Returns the device of driver `T` behind a raw pointer.
    ///
    /// # Safety
    ///
    /// `vdev` must be a live device allocated by [`Device::new`] for `T`, whose data is
    /// initialised, for `'a`.
    unsafe fn from_raw<'a>(vdev: *mut bindings::vfio_device) -> &'a Self {
        // SAFETY: By the type invariants, `vdev` starts a `Device<T>`.
        unsafe { &*vdev.cast() }
    }
}

// SAFETY: The C side may use the device from any thread, and the driver's data is `Send + Sync`.
unsafe impl<T: DeviceOps> Send for Device<T> {}

// SAFETY: See `Send`: shared references only give access to `Sync` data and to locks.
unsafe impl<T: DeviceOps> Sync for Device<T> {}

// SAFETY: The reference count of a `struct vfio_device` is that of its embedded `struct device`.
unsafe impl<T: DeviceOps> AlwaysRefCounted for Device<T> {
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
/// callback. It cannot leave the thread that holds the lock.
///
/// # Invariants
///
/// The `dev_set->lock` of `dev` is held for `'a`, by the current thread.
pub struct Locked<'a, T: DeviceOps> {
    dev: &'a Device<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<'a, T: DeviceOps> Locked<'a, T> {
    /// Wraps `dev`, checking with lockdep that its `dev_set->lock` is held.
    ///
    /// # Safety
    ///
    /// The current thread must hold the `dev_set->lock` of `dev` for `'a`.
    unsafe fn new(dev: &'a Device<T>) -> Self {
        // SAFETY: `dev` is live.
        unsafe { bindings::vfio_device_assert_dev_set_locked(dev.as_raw()) };
        // INVARIANT: The caller holds the lock.
        Self {
            dev,
            _not_send: PhantomData,
        }
    }

    /// Returns whether the device is attached to a page table.
    pub fn iommufd_attached(&self) -> bool {
        // SAFETY: The device is live, and the flag (and the byte it shares) only changes under
        // `dev_set->lock`, which is held.
        unsafe { (*self.dev.as_raw()).iommufd_attached() != 0 }
    }
}

impl<T: DeviceOps> Deref for Locked<'_, T> {
    type Target = Device<T>;

    fn deref(&self) -> &Device<T> {
        self.dev
    }
}

/// A [`Device`] that user space has open and bound, as it is while the VFIO core calls
/// [`DeviceOps::read`] and [`DeviceOps::write`]. It cannot leave the thread of the call.
///
/// # Invariants
///
/// `dev` is open (bound to an iommufd context, its `open_device` done) for `'a`.
pub struct Open<'a, T: DeviceOps> {
    dev: &'a Device<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<'a, T: DeviceOps> Open<'a, T> {
    /// Wraps `dev`.
    ///
    /// # Safety
    ///
    /// `dev` must be open for `'a`.
    unsafe fn new(dev: &'a Device<T>) -> Self {
        // INVARIANT: The caller guarantees that the device is open.
        Self {
            dev,
            _not_send: PhantomData,
        }
    }
}

impl<T: DeviceOps> Deref for Open<'_, T> {
    type Target = Device<T>;

    fn deref(&self) -> &Device<T> {
        self.dev
    }
}

impl<T: DeviceOps<Iommu = Emulated>> Open<'_, T> {
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
    /// size, for reading and, with `writable`, for writing (`vfio_pin_pages`), runs `f` on it
    /// and unpins it. Fails with `ENOENT` when the device is not attached, and with `EINVAL`
    /// when `iova` is not mapped.
    ///
    /// The page cannot outlive the call: `dma_unmap` waits for it, so that when `dma_unmap`
    /// returns no pin of its range is left, as iommufd requires.
    pub fn with_pinned_page<R>(
        &self,
        iova: u64,
        writable: bool,
        f: impl FnOnce(&PinnedPage) -> R,
    ) -> Result<R> {
        if iova % bindings::PAGE_SIZE as u64 != 0 {
            return Err(EINVAL);
        }
        let prot = bindings::IOMMU_READ | if writable { bindings::IOMMU_WRITE } else { 0 };
        let _section = self.pins.enter();
        let mut page = ptr::null_mut();
        // SAFETY: The device is open, `page` is valid for writes of one page pointer.
        let ret =
            unsafe { bindings::vfio_pin_pages(self.as_raw(), iova, 1, prot as c_int, &mut page) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        let result = NonNull::new(page).ok_or(EFAULT).map(|page| {
            // INVARIANT: `vfio_pin_pages` pinned `page`, which stays pinned until after `f`.
            f(&PinnedPage {
                page,
                writable,
                _not_sync: PhantomData,
            })
        });
        // SAFETY: The page at `iova` was pinned above, for the device, and nothing uses it any
        // more: `f` only borrowed the `PinnedPage`.
        unsafe { bindings::vfio_unpin_pages(self.as_raw(), iova, 1) };
        result
    }
}

/// A page of an IOAS, pinned for the duration of an [`Open::with_pinned_page`] call.
///
/// User space and devices may write the page at any time, so it is only ever copied from and
/// to (`memcpy_from_page`, `memcpy_to_page`); no reference to its contents exists.
///
/// # Invariants
///
/// `page` is pinned (writable if `writable`) while the value exists.
pub struct PinnedPage {
    page: NonNull<bindings::page>,
    writable: bool,
    _not_sync: PhantomData<*mut ()>,
}

impl PinnedPage {
    /// Fails with `EINVAL` unless `[offset, offset + len)` is in the page.
    fn check(offset: usize, len: usize) -> Result {
        if offset.checked_add(len).ok_or(EINVAL)? > bindings::PAGE_SIZE {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Copies the bytes at `offset` of the page into `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        Self::check(offset, out.len())?;
        // SAFETY: By the type invariants the page is pinned, the range is in it (checked
        // above), and `out` is valid for writes of its length.
        unsafe {
            bindings::memcpy_from_page(
                out.as_mut_ptr().cast(),
                self.page.as_ptr(),
                offset,
                out.len(),
            )
        };
        Ok(())
    }

    /// Copies `data` into the page at `offset`; fails with `EPERM` if the page was not pinned
    /// writable.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        if !self.writable {
            return Err(EPERM);
        }
        Self::check(offset, data.len())?;
        // SAFETY: By the type invariants the page is pinned writable, the range is in it
        // (checked above), and `data` is valid for reads of its length.
        unsafe {
            bindings::memcpy_to_page(self.page.as_ptr(), offset, data.as_ptr().cast(), data.len())
        };
        Ok(())
    }
}

type BindFn =
    unsafe extern "C" fn(*mut bindings::vfio_device, *mut bindings::iommufd_ctx, *mut u32) -> c_int;
type AttachFn = unsafe extern "C" fn(*mut bindings::vfio_device, *mut u32) -> c_int;
type DeviceFn = unsafe extern "C" fn(*mut bindings::vfio_device);
type PasidAttachFn = unsafe extern "C" fn(*mut bindings::vfio_device, u32, *mut u32) -> c_int;
type PasidDetachFn = unsafe extern "C" fn(*mut bindings::vfio_device, u32);

mod private {
    pub trait Sealed {}
}

/// How a device reaches memory, which decides the VFIO core's iommufd helpers it uses and how it
/// registers: [`Physical`] or [`Emulated`].
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
    const PASID_ATTACH: Option<PasidAttachFn>;
    #[doc(hidden)]
    const PASID_DETACH: Option<PasidDetachFn>;
    #[doc(hidden)]
    const EMULATED: bool;

    #[doc(hidden)]
    /// Registers `vdev`.
    ///
    /// # Safety
    ///
    /// `vdev` must be an allocated, unregistered VFIO device.
    unsafe fn register(vdev: *mut bindings::vfio_device) -> c_int;
}

/// A device behind an IOMMU: bound to iommufd as an `iommufd_device`, attached to IOMMU page
/// tables, registered with `vfio_register_group_dev`. Its PASIDs are attached and detached by
/// the VFIO core's `vfio_iommufd_physical_pasid_*()` helpers, as vfio-pci's are; a device
/// without PASID support fails those requests in iommufd.
pub enum Physical {}

impl private::Sealed for Physical {}

impl IommuKind for Physical {
    const BIND: BindFn = bindings::vfio_iommufd_physical_bind;
    const UNBIND: DeviceFn = bindings::vfio_iommufd_physical_unbind;
    const ATTACH: AttachFn = bindings::vfio_iommufd_physical_attach_ioas;
    const DETACH: DeviceFn = bindings::vfio_iommufd_physical_detach_ioas;
    const PASID_ATTACH: Option<PasidAttachFn> =
        Some(bindings::vfio_iommufd_physical_pasid_attach_ioas);
    const PASID_DETACH: Option<PasidDetachFn> =
        Some(bindings::vfio_iommufd_physical_pasid_detach_ioas);
    const EMULATED: bool = false;

    unsafe fn register(vdev: *mut bindings::vfio_device) -> c_int {
        // SAFETY: The caller passes an allocated, unregistered device.
        unsafe { bindings::vfio_register_group_dev(vdev) }
    }
}

/// A device that reaches memory through the CPU (`vfio_pin_pages`, `vfio_dma_rw`): bound to
/// iommufd as an `iommufd_access`, attached to IOASes only, registered with
/// `vfio_register_emulated_iommu_dev`. iommufd calls `dma_unmap` whenever a range of the IOAS
/// goes away for the device; the abstraction waits there for the device's pins of the range.
pub enum Emulated {}

impl private::Sealed for Emulated {}

impl IommuKind for Emulated {
    const BIND: BindFn = bindings::vfio_iommufd_emulated_bind;
    const UNBIND: DeviceFn = bindings::vfio_iommufd_emulated_unbind;
    const ATTACH: AttachFn = bindings::vfio_iommufd_emulated_attach_ioas;
    const DETACH: DeviceFn = bindings::vfio_iommufd_emulated_detach_ioas;
    // An `iommufd_access` has no PASIDs: the VFIO core fails PASID requests without them.
    const PASID_ATTACH: Option<PasidAttachFn> = None;
    const PASID_DETACH: Option<PasidDetachFn> = None;
    const EMULATED: bool = true;

    unsafe fn register(vdev: *mut bindings::vfio_device) -> c_int {
        // SAFETY: The caller passes an allocated, unregistered device.
        unsafe { bindings::vfio_register_emulated_iommu_dev(vdev) }
    }
}

/// The operations of a VFIO device, `struct vfio_device_ops`.
///
/// This is not a bus driver: whatever binds the parent device (a PCI, platform or mock-IOMMU
/// driver) makes a [`Device`] with these operations and registers it with [`Registration`].
///
/// Every method is optional, and each default is callable and does nothing, or fails `read`
/// and `write` with `EINVAL` as the VFIO core does for a driver without them. The iommufd
/// methods are hooks: the VFIO core's helper for [`DeviceOps::Iommu`] always runs, exactly once
/// per callback, at the place each hook's documentation gives. They are overridden in pairs
/// (`bind_iommufd` with `unbind_iommufd`, `attach_ioas` with `detach_ioas`), or the driver does
/// not compile.
///
/// # Examples
///
/// ```
/// use kernel::{prelude::*, vfio};
///
/// struct MyDriver;
///
/// #[vtable]
/// impl vfio::DeviceOps for MyDriver {
///     type Data = ();
///     type Iommu = vfio::Physical;
///     const NAME: &'static CStr = c"my-vfio";
/// }
/// ```
///
/// A driver with work to do when the device is attached overrides `attach_ioas` and
/// `detach_ioas`; the attach itself is the VFIO core's:
///
/// ```
/// use kernel::{prelude::*, vfio};
///
/// struct Logging;
///
/// #[vtable]
/// impl vfio::DeviceOps for Logging {
///     type Data = ();
///     type Iommu = vfio::Physical;
///     const NAME: &'static CStr = c"logging-vfio";
///
///     fn attach_ioas(_dev: &vfio::Locked<'_, Self>, pt_id: u32) -> Result {
///         pr_info!("attaching to {}\n", pt_id);
///         Ok(())
///     }
///
///     fn detach_ioas(dev: &vfio::Locked<'_, Self>) {
///         if dev.iommufd_attached() {
///             pr_info!("detaching\n");
///         }
///     }
/// }
/// ```
#[vtable]
pub trait DeviceOps: Sized + 'static {
    /// The driver's data, stored in the [`Device`] and initialised in place.
    type Data: Send + Sync;

    /// How the device reaches memory: [`Physical`] or [`Emulated`].
    type Iommu: IommuKind;

    /// The driver's name (`vfio_device_ops.name`).
    const NAME: &'static CStr;

    /// Prepares the device for user space, when it opens the device.
    fn open_device(_dev: &Device<Self>) -> Result {
        Ok(())
    }

    /// Undoes [`DeviceOps::open_device`], when user space closes the device.
    fn close_device(_dev: &Device<Self>) {}

    /// Runs after the VFIO core bound the device to an iommufd context as `device_id`. An
    /// error unbinds the device again, and fails the bind.
    fn bind_iommufd(_dev: &Locked<'_, Self>, _device_id: u32) -> Result {
        Ok(())
    }

    /// Runs before the VFIO core unbinds the device, which detaches it first if it is attached
    /// (without [`DeviceOps::detach_ioas`]).
    fn unbind_iommufd(_dev: &Locked<'_, Self>) {}

    /// Runs before the VFIO core attaches the device to the page table `pt_id` names, or
    /// replaces the one it is attached to. An error fails the attach, and leaves the device as
    /// it was.
    fn attach_ioas(_dev: &Locked<'_, Self>, _pt_id: u32) -> Result {
        Ok(())
    }

    /// Runs before the VFIO core detaches the device, on each detach request, also when it is
    /// not attached ([`Locked::iommufd_attached`] tells).
    fn detach_ioas(_dev: &Locked<'_, Self>) {}

    /// Runs when iommufd unmaps `[iova, iova + length)` for an [`Emulated`] device, before the
    /// abstraction waits for the device's pins taken before the call. Never called for a
    /// [`Physical`] device; overriding it there does not compile.
    fn dma_unmap(_dev: &Device<Self>, _iova: u64, _length: u64) {}

    /// Reads from the device file at `offset` into `buf`; returns the number of bytes read.
    fn read(_dev: &Open<'_, Self>, _buf: UserSliceWriter, _offset: u64) -> Result<usize> {
        Err(EINVAL)
    }

    /// Writes `buf` to the device file at `offset`; returns the number of bytes written.
    fn write(_dev: &Open<'_, Self>, _buf: UserSliceReader, _offset: u64) -> Result<usize> {
        Err(EINVAL)
    }
}

/// A registered [`Device`]: user space can find and open it until this is dropped, which waits
/// until user space has closed it.
///
/// # Invariants
///
/// `dev` is registered with the VFIO core, once, until `self` is dropped.
pub struct Registration<T: DeviceOps> {
    dev: ARef<Device<T>>,
}

impl<T: DeviceOps> Registration<T> {
    /// Allocates a device of driver `T` whose data `data` initialises in place and whose parent
    /// is `parent`, and registers it as its [`DeviceOps::Iommu`] kind requires.
    ///
    /// # Safety
    ///
    /// `parent` must be bound to a driver from before this call until the returned value is
    /// dropped: opening the device uses the module of the parent's driver. A driver drops it
    /// in its `remove` at the latest.
    pub unsafe fn new<E>(parent: &device::Device, data: impl PinInit<T::Data, E>) -> Result<Self>
    where
        Error: From<E>,
    {
        let dev = Device::<T>::new(parent, data)?;
        // SAFETY: `dev` was just allocated and is not registered.
        to_result(unsafe { T::Iommu::register(dev.as_raw()) })?;
        // INVARIANT: `dev` was registered just now.
        Ok(Self { dev })
    }

    /// Returns the registered device.
    pub fn device(&self) -> &Device<T> {
        &self.dev
    }
}

impl<T: DeviceOps> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: The device was registered in `new`, and is unregistered once, here.
        unsafe { bindings::vfio_unregister_group_dev(self.dev.as_raw()) };
    }
}

struct VTable<T: DeviceOps>(PhantomData<T>);

impl<T: DeviceOps> VTable<T> {
    /// The rules on which methods a driver may override.
    const OVERRIDES: () = {
        assert!(
            T::HAS_ATTACH_IOAS == T::HAS_DETACH_IOAS,
            "a vfio::DeviceOps that overrides attach_ioas must override detach_ioas, and the \
             reverse"
        );
        assert!(
            T::HAS_BIND_IOMMUFD == T::HAS_UNBIND_IOMMUFD,
            "a vfio::DeviceOps that overrides bind_iommufd must override unbind_iommufd, and the \
             reverse"
        );
        assert!(
            T::Iommu::EMULATED || !T::HAS_DMA_UNMAP,
            "dma_unmap is only called for vfio::Emulated devices"
        );
    };

    const VTABLE: bindings::vfio_device_ops = {
        #[allow(clippy::let_unit_value)]
        let () = Self::OVERRIDES;

        bindings::vfio_device_ops {
            name: as_char_ptr_in_const_context(T::NAME).cast_mut(),
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
            pasid_attach_ioas: T::Iommu::PASID_ATTACH,
            pasid_detach_ioas: T::Iommu::PASID_DETACH,
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
            // Every emulated device waits for its pins in `dma_unmap`, and `vfio_pin_pages`
            // needs one.
            dma_unmap: if T::Iommu::EMULATED {
                Some(Self::dma_unmap_callback)
            } else {
                None
            },
            // SAFETY: All zeroes is a valid `vfio_device_ops` (every callback `None`), for the
            // fields this kernel has beyond the ones above.
            ..unsafe { mem::zeroed() }
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
        // SAFETY: `parent` and `pins` were initialised in `Device::new`, `data` if `data_ready`
        // is set, and nothing uses them any more.
        unsafe {
            if (*this).data_ready {
                ptr::drop_in_place(ptr::addr_of_mut!((*this).data));
            }
            ptr::drop_in_place(ptr::addr_of_mut!((*this).pins));
            ptr::drop_in_place(ptr::addr_of_mut!((*this).parent));
        }
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live, unbound device of `T`, with `dev_set->lock` held.
    unsafe extern "C" fn bind_iommufd_callback(
        vdev: *mut bindings::vfio_device,
        ictx: *mut bindings::iommufd_ctx,
        out_device_id: *mut u32,
    ) -> c_int {
        // SAFETY: The VFIO core passes a live device of `T` and holds its `dev_set->lock`.
        let dev = unsafe { Locked::new(Device::<T>::from_raw(vdev)) };
        // SAFETY: The device is of this kind and not bound, the lock is held, `ictx` is a live
        // context and `out_device_id` valid for writes.
        let ret = unsafe { T::Iommu::BIND(vdev, ictx, out_device_id) };
        if ret != 0 {
            return ret;
        }
        // SAFETY: The bind succeeded, so it wrote `out_device_id`.
        match T::bind_iommufd(&dev, unsafe { *out_device_id }) {
            Ok(()) => 0,
            Err(e) => {
                // SAFETY: The device was bound just above, and the lock is still held.
                unsafe { T::Iommu::UNBIND(vdev) };
                e.to_errno()
            }
        }
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live, bound device of `T`, with `dev_set->lock` held.
    unsafe extern "C" fn unbind_iommufd_callback(vdev: *mut bindings::vfio_device) {
        // SAFETY: The VFIO core passes a live device of `T` and holds its `dev_set->lock`.
        let dev = unsafe { Locked::new(Device::<T>::from_raw(vdev)) };
        T::unbind_iommufd(&dev);
        // SAFETY: The device is of this kind and bound, and the lock is held.
        unsafe { T::Iommu::UNBIND(vdev) };
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live, bound device of `T`, with `dev_set->lock` held.
    unsafe extern "C" fn attach_ioas_callback(
        vdev: *mut bindings::vfio_device,
        pt_id: *mut u32,
    ) -> c_int {
        // SAFETY: The VFIO core passes a live device of `T` and holds its `dev_set->lock`.
        let dev = unsafe { Locked::new(Device::<T>::from_raw(vdev)) };
        // SAFETY: `pt_id` is valid for reads for the call.
        if let Err(e) = T::attach_ioas(&dev, unsafe { *pt_id }) {
            return e.to_errno();
        }
        // SAFETY: The device is of this kind and bound, the lock is held, and `pt_id` valid for
        // reads and writes.
        unsafe { T::Iommu::ATTACH(vdev, pt_id) }
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live, bound device of `T`, with `dev_set->lock` held.
    unsafe extern "C" fn detach_ioas_callback(vdev: *mut bindings::vfio_device) {
        // SAFETY: The VFIO core passes a live device of `T` and holds its `dev_set->lock`.
        let dev = unsafe { Locked::new(Device::<T>::from_raw(vdev)) };
        T::detach_ioas(&dev);
        // SAFETY: The device is of this kind and bound, and the lock is held.
        unsafe { T::Iommu::DETACH(vdev) };
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
    /// Called by iommufd, through the VFIO core, for a live device of `T` bound as an
    /// `iommufd_access`, after iommufd made new pins of the range fail.
    unsafe extern "C" fn dma_unmap_callback(
        vdev: *mut bindings::vfio_device,
        iova: u64,
        length: u64,
    ) {
        // SAFETY: The VFIO core passes a live device of `T`.
        let dev = unsafe { Device::<T>::from_raw(vdev) };
        T::dma_unmap(dev, iova, length);
        dev.pins.wait_for_pins();
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
        let writer = UserSlice::new(UserPtr::from_addr(buf as usize), count).writer();
        // SAFETY: `ppos` is valid for reads and writes for the call.
        unsafe { Self::advance(ppos, count, |offset| T::read(&dev, writer, offset)) }
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
        let reader = UserSlice::new(UserPtr::from_addr(buf as usize), count).reader();
        // SAFETY: `ppos` is valid for reads and writes for the call.
        unsafe { Self::advance(ppos, count, |offset| T::write(&dev, reader, offset)) }
    }

    /// Runs a read or write `op` of up to `count` bytes at `*ppos`, which it advances by the
    /// bytes done; a driver that claims more than `count` is held to `count`.
    ///
    /// # Safety
    ///
    /// `ppos` must be valid for reads and writes.
    unsafe fn advance(
        ppos: *mut bindings::loff_t,
        count: usize,
        op: impl FnOnce(u64) -> Result<usize>,
    ) -> isize {
        // SAFETY: The caller guarantees that `ppos` is valid for reads.
        let pos = unsafe { *ppos };
        let done = u64::try_from(pos)
            .map_err(|_| EINVAL)
            .and_then(op)
            .map(|n| n.min(count))
            .and_then(|n| Ok((n, pos.checked_add(n.try_into()?).ok_or(EINVAL)?)))
            .and_then(|(n, end)| Ok((isize::try_from(n)?, end)));
        match done {
            Ok((n, end)) => {
                // SAFETY: The caller guarantees that `ppos` is valid for writes.
                unsafe { *ppos = end };
                n
            }
            Err(e) => e.to_errno() as isize,
        }
    }
}

/// Devices for samples and tests, on iommufd's mock IOMMU (`CONFIG_IOMMUFD_TEST`).
///
/// A [`TestDevice`](testing::TestDevice) makes a parent device for a VFIO device, binds it to
/// a driver of its own and registers the VFIO device on it; it owns all three, and drops them
/// in the reverse order, so the parent is bound for as long as the registration lives: this is
/// where the safe code of a sample gets the guarantee [`Registration::new`] asks for.
#[cfg(all(CONFIG_IOMMUFD_TEST, CONFIG_KUNIT))]
pub mod testing {
    use super::*;
    use crate::{
        alloc::{flags::GFP_KERNEL, KBox},
        init::InPlaceInit,
        module::{this_module, ModuleMetadata},
        prelude::fmt,
        str::CString,
        ThisModule,
    };
    use core::{
        pin::Pin,
        sync::atomic::{AtomicU32, Ordering},
    };

    /// Returns `name-N`, with an `N` no earlier call returned.
    fn unique_name(name: &CStr) -> Result<CString> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        CString::try_from_fmt(fmt!("{}-{}", name, NEXT.fetch_add(1, Ordering::Relaxed)))
    }

    /// Forces the interleaving of a pin of an emulated device with a `dma_unmap` of another
    /// range that the pin tracking must survive, and fails with `EINVAL` if it does not.
    ///
    /// The `dma_unmap` runs after the pin read the epoch and before it counted itself. The
    /// pin must still end up counted in the slot the next `dma_unmap`, which may be the one of
    /// the pin's own range, waits for: otherwise that `dma_unmap` returns with the page still
    /// pinned, and a DETACH, replace or unbind after it leaves iommufd with a pin of an
    /// unmapped range (a WARN in `iommufd_access_unpin_pages()`, or an unpin on another IOAS).
    ///
    /// # Examples
    ///
    /// ```
    /// kernel::vfio::testing::pin_epoch_race()?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn pin_epoch_race() -> Result {
        let tracker = KBox::pin_init(PinTracker::new(), GFP_KERNEL)?;
        let mut unmaps = 0;
        let pin = tracker.enter_with(|| {
            // Once only: the pin retries its count after this `dma_unmap`.
            if unmaps == 0 {
                unmaps += 1;
                tracker.wait_for_pins();
            }
        });
        let waited = tracker.pins_for_next_unmap();
        drop(pin);
        if unmaps != 1 || waited != 1 || tracker.pins_for_next_unmap() != 0 {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Returns whether `dev` is bound to `drv`.
    ///
    /// # Safety
    ///
    /// `dev` must be a live device.
    unsafe fn bound_to(dev: *mut bindings::device, drv: *const bindings::device_driver) -> bool {
        // SAFETY: `dev` is live; its driver is read under its lock.
        unsafe {
            bindings::mutex_lock(ptr::addr_of_mut!((*dev).mutex));
            let bound = ptr::eq((*dev).driver, drv);
            bindings::mutex_unlock(ptr::addr_of_mut!((*dev).mutex));
            bound
        }
    }

    /// The flag of a mock device with PASIDs, `MOCK_FLAGS_DEVICE_PASID` of iommufd's selftest
    /// uAPI (`drivers/iommu/iommufd/iommufd_test.h`).
    const MOCK_FLAGS_DEVICE_PASID: u32 = 1 << 2;

    /// A device on iommufd's mock bus, behind its mock IOMMU, with PASIDs, bound to a driver of
    /// its own with no bind attributes in sysfs: the parent of a [`Physical`] device.
    ///
    /// # Invariants
    ///
    /// `drv` is registered with `iommufd_test_mock_driver_register` under `name`, and `dev`
    /// was made by `iommufd_test_mock_dev_create` and is bound to it, until `self` is dropped.
    struct MockParent {
        dev: NonNull<bindings::device>,
        drv: Pin<KBox<Opaque<bindings::device_driver>>>,
        _name: CString,
    }

    impl MockParent {
        fn new(
            name: &CStr,
            peer: *mut bindings::device,
            module: &'static ThisModule,
        ) -> Result<Self> {
            let name = unique_name(name)?;
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
            // SAFETY: `peer` is null or a live mock device, `name` a string.
            let dev = match from_err_ptr(unsafe {
                bindings::iommufd_test_mock_dev_create(
                    MOCK_FLAGS_DEVICE_PASID,
                    peer,
                    name.as_char_ptr(),
                )
            }) {
                Ok(dev) => dev,
                Err(e) => {
                    // SAFETY: The driver was registered above and has no devices.
                    unsafe { bindings::iommufd_test_mock_driver_unregister(raw) };
                    return Err(e);
                }
            };
            // INVARIANT: Both were made just now; the device is checked to be bound below.
            let this = Self {
                // SAFETY: `from_err_ptr` passed a pointer that is not an error; it is not null.
                dev: unsafe { NonNull::new_unchecked(dev) },
                drv,
                _name: name,
            };
            // SAFETY: `dev` is live.
            if !unsafe { bound_to(dev, raw) } {
                return Err(ENODEV);
            }
            Ok(this)
        }

        fn device(&self) -> &device::Device {
            // SAFETY: By the type invariants, the device lives as long as `self`.
            unsafe { device::Device::from_raw(self.dev.as_ptr()) }
        }
    }

    impl Drop for MockParent {
        fn drop(&mut self) {
            // SAFETY: By the type invariants, the device and the driver exist; the device goes
            // first, so that it is not unbound while it exists.
            unsafe {
                bindings::iommufd_test_mock_dev_destroy(self.dev.as_ptr());
                bindings::iommufd_test_mock_driver_unregister(self.drv.get());
            }
        }
    }

    /// A platform device in no iommu group, bound to a platform driver of its own with no bind
    /// attributes in sysfs: the parent of an [`Emulated`] device.
    ///
    /// # Invariants
    ///
    /// `drv` is registered under `name`, and `pdev` was registered by
    /// `platform_device_register_full` and is bound to it, until `self` is dropped.
    struct PlatformParent {
        pdev: NonNull<bindings::platform_device>,
        drv: Pin<KBox<Opaque<bindings::platform_driver>>>,
        _name: CString,
    }

    impl PlatformParent {
        fn new(
            name: &CStr,
            module: &'static ThisModule,
            module_name: &'static CStr,
        ) -> Result<Self> {
            let name = unique_name(name)?;
            // SAFETY: All zeroes is a valid `platform_driver`: no callbacks, no id table.
            let drv = KBox::pin(Opaque::new(unsafe { mem::zeroed() }), GFP_KERNEL)?;
            let raw: *mut bindings::platform_driver = drv.get();
            // SAFETY: `raw` is valid and not registered yet; `name` outlives the driver.
            to_result(unsafe {
                (*raw).driver.name = name.as_char_ptr();
                (*raw).driver.suppress_bind_attrs = true;
                bindings::__platform_driver_register(
                    raw,
                    module.as_ptr(),
                    module_name.as_char_ptr(),
                )
            })?;
            // SAFETY: All zeroes is a valid `platform_device_info`: no resources, no data.
            let mut info: bindings::platform_device_info = unsafe { mem::zeroed() };
            info.name = name.as_char_ptr();
            info.id = bindings::PLATFORM_DEVID_AUTO;
            // SAFETY: `info` is valid, and `name` outlives the device.
            let pdev = match from_err_ptr(unsafe { bindings::platform_device_register_full(&info) })
            {
                Ok(pdev) => pdev,
                Err(e) => {
                    // SAFETY: The driver was registered above and has no devices.
                    unsafe { bindings::platform_driver_unregister(raw) };
                    return Err(e);
                }
            };
            // INVARIANT: Both were made just now; the device is checked to be bound below.
            let this = Self {
                // SAFETY: `from_err_ptr` passed a pointer that is not an error; it is not null.
                pdev: unsafe { NonNull::new_unchecked(pdev) },
                drv,
                _name: name,
            };
            // SAFETY: `pdev` is live, and so is the driver.
            if !unsafe { bound_to(ptr::addr_of_mut!((*pdev).dev), ptr::addr_of!((*raw).driver)) } {
                return Err(ENODEV);
            }
            Ok(this)
        }

        fn device(&self) -> &device::Device {
            // SAFETY: By the type invariants, the device lives as long as `self`.
            unsafe { device::Device::from_raw(ptr::addr_of_mut!((*self.pdev.as_ptr()).dev)) }
        }
    }

    impl Drop for PlatformParent {
        fn drop(&mut self) {
            // SAFETY: By the type invariants, the device and the driver are registered; the
            // device goes first.
            unsafe {
                bindings::platform_device_unregister(self.pdev.as_ptr());
                bindings::platform_driver_unregister(self.drv.get());
            }
        }
    }

    enum Parent {
        Mock(MockParent),
        Platform(PlatformParent),
    }

    impl Parent {
        fn device(&self) -> &device::Device {
            match self {
                Parent::Mock(p) => p.device(),
                Parent::Platform(p) => p.device(),
            }
        }
    }

    /// A VFIO device of driver `T` registered on a parent device made for it, bound to a driver
    /// of its own that belongs to the sample's module. Dropping it unregisters the VFIO device
    /// (waiting until user space has closed it), then destroys the parent and its driver.
    ///
    /// # Examples
    ///
    /// The iommufd hooks run around the VFIO core's helpers, which the abstraction always calls:
    /// a `bind_iommufd` hook that fails leaves the device unbound, an `attach_ioas` hook that
    /// fails leaves it detached. Data whose initialisation fails is never dropped; other data is
    /// dropped once. The test calls the ops as the VFIO core does, under `dev_set->lock`.
    ///
    /// ```
    /// use core::{
    ///     ptr,
    ///     sync::atomic::{AtomicU32, Ordering},
    /// };
    /// use kernel::{bindings, prelude::*, vfio, vfio::testing::TestDevice};
    ///
    /// static BINDS: AtomicU32 = AtomicU32::new(0);
    /// static DROPS: AtomicU32 = AtomicU32::new(0);
    ///
    /// struct Counted;
    ///
    /// impl Drop for Counted {
    ///     fn drop(&mut self) {
    ///         DROPS.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// struct Picky;
    ///
    /// #[vtable]
    /// impl vfio::DeviceOps for Picky {
    ///     type Data = Counted;
    ///     type Iommu = vfio::Emulated;
    ///     const NAME: &'static CStr = c"picky-vfio";
    ///
    ///     // Refuses the first bind, which the core has made when the hook runs.
    ///     fn bind_iommufd(_dev: &vfio::Locked<'_, Self>, _device_id: u32) -> Result {
    ///         match BINDS.fetch_add(1, Ordering::Relaxed) {
    ///             0 => Err(EPERM),
    ///             _ => Ok(()),
    ///         }
    ///     }
    ///
    ///     fn unbind_iommufd(_dev: &vfio::Locked<'_, Self>) {}
    ///
    ///     fn attach_ioas(_dev: &vfio::Locked<'_, Self>, _pt_id: u32) -> Result {
    ///         Err(EBUSY)
    ///     }
    ///
    ///     fn detach_ioas(_dev: &vfio::Locked<'_, Self>) {}
    /// }
    ///
    /// // SAFETY: The initialiser fails without touching the slot.
    /// let failing = unsafe { pin_init::pin_init_from_closure::<Counted, Error>(|_| Err(ENOMEM)) };
    /// assert_eq!(TestDevice::<Picky>::new_platform(failing).err(), Some(ENOMEM));
    /// assert_eq!(DROPS.load(Ordering::Relaxed), 0);
    ///
    /// let dev = TestDevice::<Picky>::new_platform(Counted)?;
    /// let vdev = ptr::from_ref(dev.device()).cast_mut().cast::<bindings::vfio_device>();
    /// // SAFETY: `vdev` is live; the context is checked; the ops are called as the VFIO core
    /// // calls them, under `dev_set->lock`, in an order it allows.
    /// unsafe {
    ///     let ictx = bindings::iommufd_test_ctx_create();
    ///     assert!(!bindings::IS_ERR(ictx.cast()));
    ///     let mut ioas = 0;
    ///     assert_eq!(bindings::iommufd_test_ioas_alloc(ictx, &mut ioas), 0);
    ///     let ops = &*(*vdev).ops;
    ///     let lock = ptr::addr_of_mut!((*(*vdev).dev_set).lock);
    ///     let mut id = 0;
    ///     bindings::mutex_lock(lock);
    ///     assert_eq!(ops.bind_iommufd.unwrap()(vdev, ictx, &mut id), EPERM.to_errno());
    ///     assert!((*vdev).iommufd_access.is_null());
    ///     assert_eq!(ops.bind_iommufd.unwrap()(vdev, ictx, &mut id), 0);
    ///     assert!(!(*vdev).iommufd_access.is_null());
    ///     let mut pt_id = ioas;
    ///     assert_eq!(ops.attach_ioas.unwrap()(vdev, &mut pt_id), EBUSY.to_errno());
    ///     assert_eq!((*vdev).iommufd_attached(), 0);
    ///     ops.unbind_iommufd.unwrap()(vdev);
    ///     assert!((*vdev).iommufd_access.is_null());
    ///     bindings::mutex_unlock(lock);
    ///     assert_eq!(bindings::iommufd_test_destroy(ictx, ioas), 0);
    ///     bindings::iommufd_test_ctx_destroy(ictx);
    /// }
    /// drop(dev);
    /// assert_eq!(DROPS.load(Ordering::Relaxed), 1);
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Invariants
    ///
    /// `parent` is bound to its driver while `reg` exists.
    pub struct TestDevice<T: DeviceOps> {
        // Dropped first: fields drop in the order they are declared.
        reg: Registration<T>,
        _parent: Parent,
    }

    impl<T: DeviceOps> TestDevice<T> {
        fn register<E>(parent: Parent, data: impl PinInit<T::Data, E>) -> Result<Self>
        where
            Error: From<E>,
        {
            // SAFETY: `parent` is bound to its driver, which has no bind attributes and is only
            // unregistered when `parent` is dropped; `Self` drops `reg` before `parent`.
            let reg = unsafe { Registration::new(parent.device(), data)? };
            // INVARIANT: See above.
            Ok(Self {
                reg,
                _parent: parent,
            })
        }

        /// Returns the VFIO device.
        pub fn device(&self) -> &Device<T> {
            self.reg.device()
        }
    }

    impl<T: DeviceOps<Iommu = Physical>> TestDevice<T> {
        /// Makes a mock device behind the mock IOMMU, in an iommu group of its own or in that of
        /// `group_peer`'s parent, and registers a device of `T` on it with `data`. The mock
        /// device's driver belongs to `T`'s module.
        pub fn new_mock<E>(
            group_peer: Option<&Device<T>>,
            data: impl PinInit<T::Data, E>,
        ) -> Result<Self>
        where
            Error: From<E>,
        {
            let peer = group_peer.map_or(ptr::null_mut(), |p| p.parent().as_raw());
            let module = this_module::<T::OwnerModule>();
            Self::register(Parent::Mock(MockParent::new(T::NAME, peer, module)?), data)
        }
    }

    impl<T: DeviceOps<Iommu = Emulated>> TestDevice<T> {
        /// Makes a platform device in no iommu group and registers a device of `T` on it with
        /// `data`. The platform device's driver belongs to `T`'s module.
        pub fn new_platform<E>(data: impl PinInit<T::Data, E>) -> Result<Self>
        where
            Error: From<E>,
        {
            let module = this_module::<T::OwnerModule>();
            let module_name = <T::OwnerModule as ModuleMetadata>::NAME;
            Self::register(
                Parent::Platform(PlatformParent::new(T::NAME, module, module_name)?),
                data,
            )
        }
    }

    // SAFETY: The devices can be unregistered, and the drivers unregistered, from any thread.
    unsafe impl<T: DeviceOps> Send for TestDevice<T> {}

    // SAFETY: `&TestDevice` only gives out a `&Device<T>`, which is `Sync`.
    unsafe impl<T: DeviceOps> Sync for TestDevice<T> {}

    /// A driver that the C KUnit suite `vfio_iommufd`, and the module that makes devices for
    /// user space, can make devices of, through the functions
    /// [`vfio_test_factory!`](crate::vfio_test_factory) generates.
    pub trait TestDriver: DeviceOps {
        /// Makes a device; `group_peer` asks for one in the iommu group of another.
        fn create(group_peer: Option<&Device<Self>>) -> Result<TestDevice<Self>>;

        /// The number of `dma_unmap` calls so far, and the `(iova, length)` of the last one.
        fn unmaps(_dev: &Device<Self>) -> (u32, u64, u64) {
            (0, 0, 0)
        }
    }

    /// Creates a device for a C caller; the parent's driver data owns its [`TestDevice`].
    ///
    /// # Safety
    ///
    /// `group_peer` must be null or a device from this function for `T`, not yet destroyed.
    pub unsafe fn create<T: TestDriver>(
        group_peer: *mut bindings::vfio_device,
    ) -> *mut bindings::vfio_device {
        // SAFETY: `group_peer` is null or a live device of `T`.
        let peer = (!group_peer.is_null()).then(|| unsafe { Device::<T>::from_raw(group_peer) });
        let made = T::create(peer).and_then(|dev| Ok(KBox::new(dev, GFP_KERNEL)?));
        match made {
            Ok(dev) => {
                let vdev = dev.device().as_raw();
                // SAFETY: The parent is bound to a driver of the test device's own, which does
                // not use the driver data; `destroy` takes the box back from there.
                unsafe { (*(*vdev).dev).driver_data = KBox::into_raw(dev).cast() };
                vdev
            }
            Err(e) => e.to_ptr(),
        }
    }

    /// Drops a device from [`create`].
    ///
    /// # Safety
    ///
    /// `vdev` must come from [`create`] for `T`, and is not used afterwards.
    pub unsafe fn destroy<T: TestDriver>(vdev: *mut bindings::vfio_device) {
        // SAFETY: `vdev` is live, and `create` left its `TestDevice` in its parent's driver data.
        let dev = unsafe {
            let parent = (*vdev).dev;
            let dev = (*parent).driver_data.cast::<TestDevice<T>>();
            (*parent).driver_data = ptr::null_mut();
            KBox::from_raw(dev)
        };
        drop(dev);
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
