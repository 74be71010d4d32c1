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
//! - The iommufd methods of [`DeviceOps`] are hooks around those helpers, and see what they did:
//!   `attach_ioas` runs after the core's attach with its result (the page table the device is
//!   attached to now, or the error that left it as it was); `detach_ioas` runs once for each time
//!   the device stops being attached, whether user space asked for it or unbound the device
//!   while attached. Overriding `attach_ioas` without `detach_ioas`, or `bind_iommufd` without
//!   `unbind_iommufd`, or the reverse, does not compile.
//! - The hooks receive a [`Locked`] device: proof that `dev_set->lock` is held. Whether the
//!   device is attached can only be read through it. `read` and `write` receive an [`Open`]
//!   device: the VFIO core only calls them while user space has the device open and bound. Both
//!   give the parent as a bound device (`&device::Device<Bound>`): the callbacks only run while
//!   the device is registered, and it is unregistered before its parent's unbind completes.
//! - DMA through the CPU (`vfio_dma_rw`, `vfio_pin_pages`) is a method of an [`Open`] device of
//!   an [`Emulated`] driver only. A page is pinned only while the abstraction copies from or to
//!   it ([`Open::read_pinned`], [`Open::write_pinned`]); no driver code runs while it is pinned,
//!   so none can sleep there. `dma_unmap` returns only when every pin taken before iommufd
//!   called it is gone, as iommufd requires.
//! - [`Registration`] allocates and registers a device on a parent that is bound to a driver
//!   (`&device::Device<Bound>`), and unregisters it when dropped, or when the parent is unbound,
//!   whichever comes first ([`Devres`]). It borrows the parent, so it cannot be kept where the
//!   device's callbacks reach it. If it is dropped inside one of them all the same, which would
//!   wait for the very call that drops it, the unregistration moves to a work item. The module
//!   of the ops stays loaded while the device is open, and a registration that outlives it,
//!   leaked, ends when it is unloaded.
//! - The rest of what a VMM needs of a driver is typed too. The driver's data is split by
//!   lifetime: [`DeviceOps::Data`] while the parent is bound, [`DeviceOps::OpenData`] from open
//!   to close ([`PerOpen`]), reached through an [`Open`] device only. The device ioctls are hooks
//!   with typed arguments the abstraction copies and checks ([`DeviceInfo`], [`RegionInfo`] and
//!   [`RegionCaps`], [`IrqInfo`], [`IrqSet`] with its eventfds resolved, a reset); `mmap` gets
//!   the region decoded, and [`UserPage`] is a page shared with user space; `request` and the
//!   PASID hooks complete the table. What a driver leaves out is its kind's core's.

use crate::{
    alloc::{
        flags::{__GFP_ZERO, GFP_KERNEL},
        KBox, KVec,
    },
    bindings,
    build_assert::build_assert,
    device::{self, Bound},
    devres::Devres,
    error::{code::*, from_err_ptr, to_result, Error, Result},
    ffi::{c_int, c_long, c_uint, c_ulong, c_void, CStr},
    init::InPlaceInit,
    ioctl,
    mm::virt::{flags as vm_flags, VmaNew},
    module::this_module,
    new_work,
    page::{Page, PAGE_SIZE},
    str::{as_char_ptr_in_const_context, CStrExt as _},
    sync::{
        aref::{ARef, AlwaysRefCounted},
        CondVar, Mutex, SpinLock,
    },
    task::Task,
    types::Opaque,
    uaccess::{UserPtr, UserSlice, UserSliceReader, UserSliceWriter},
    workqueue::{self, impl_has_work, Work, WorkItem},
    ThisModule,
};
use core::{
    marker::PhantomData,
    mem,
    ops::Deref,
    pin::Pin,
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering},
};
use macros::vtable;
use pin_init::{pin_data, pin_init, PinInit};

/// A task running driver code in a callback of a device, linked into the device's [`Callers`]
/// for the duration of the call.
struct Caller {
    task: *mut bindings::task_struct,
    next: *mut Caller,
}

/// The first of a device's [`Caller`]s.
struct CallerList(*mut Caller);

// SAFETY: The list only holds pointers to callers that are linked and unlinked under the lock
// that holds the list, by the threads whose stacks they are on.
unsafe impl Send for CallerList {}

/// The tasks running driver code in a callback of a device, so that dropping its registration
/// can tell that it runs inside one: unregistering waits until user space has closed the device,
/// which it cannot while the call that drops it has not returned.
#[pin_data]
struct Callers {
    #[pin]
    list: SpinLock<CallerList>,
}

impl Callers {
    fn new() -> impl PinInit<Self> {
        // A static name, as for the locks of `PinTracker::new`.
        static CALLERS: &CStr = c"vfio::Device::callers";
        pin_init!(Self {
            list <- SpinLock::new(
                CallerList(ptr::null_mut()),
                CALLERS,
                crate::static_lock_class!(),
            ),
        })
    }

    /// Runs `f`, driver code, as a callback of the device on the current task.
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let mut caller = Caller {
            task: Task::current_raw(),
            next: ptr::null_mut(),
        };
        let this: *mut Caller = &mut caller;
        {
            let mut list = self.list.lock();
            // SAFETY: `caller` is on this stack frame, which outlives its time in the list: it
            // is unlinked below, before the frame ends, and is not moved in between.
            unsafe { (*this).next = list.0 };
            list.0 = this;
        }
        let result = f();
        let mut list = self.list.lock();
        let mut link: *mut *mut Caller = &mut list.0;
        // SAFETY: The list holds `this` (linked above; only the thread that linked a caller
        // unlinks it), and each of its callers is live while linked; the lock is held.
        unsafe {
            while *link != this {
                link = &mut (**link).next;
            }
            *link = (*this).next;
        }
        result
    }

    /// Returns whether the current task runs driver code in a callback of the device.
    fn current_inside(&self) -> bool {
        let current = Task::current_raw();
        let list = self.list.lock();
        let mut caller = list.0;
        while !caller.is_null() {
            // SAFETY: Callers in the list are live while the lock is held.
            unsafe {
                if (*caller).task == current {
                    return true;
                }
                caller = (*caller).next;
            }
        }
        false
    }
}

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
/// (the device `vdev.dev` points to), `pins` and `callers` are initialised, and `data` is once
/// `data_ready` is set. `open_data` is initialised while `opened` is set: from the open
/// callback to the close callback, both under `dev_set->lock`. It lives until the last reference
/// to `vdev.device` is dropped, whose release drops `data`, `callers`, `pins`, then `parent`.
#[repr(C)]
pub struct Device<T: DeviceOps> {
    vdev: Opaque<<T::Iommu as IommuKind>::Head>,
    parent: ARef<device::Device>,
    pins: PinTracker,
    callers: Callers,
    /// The registration of a device that its bus driver glue registers (`vfio::pci::Core`),
    /// from its probe to its remove, which serialise the accesses.
    bus_registration: core::cell::UnsafeCell<Option<Registered>>,
    /// The driver's state of the current open, see [`PerOpen`].
    open_data: core::cell::UnsafeCell<mem::MaybeUninit<T::OpenData>>,
    opened: AtomicBool,
    data: T::Data,
    data_ready: bool,
}

impl<T: DeviceOps> Device<T> {
    /// Allocates a device whose parent is `parent`, with its data initialised in place.
    fn new<E>(parent: &device::Device<Bound>, data: impl PinInit<T::Data, E>) -> Result<ARef<Self>>
    where
        Error: From<E>,
    {
        // `_vfio_alloc_device` aligns its allocation for a `struct vfio_device` only.
        build_assert!(mem::align_of::<Self>() <= mem::align_of::<bindings::vfio_device>());
        // The C core finds the `struct vfio_device` at the start of the allocation.
        build_assert!(mem::offset_of!(Self, vdev) == 0);

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
        // and `opened` are false) and suitably aligned (see above); nothing reads `parent`,
        // `pins` or `callers` before these writes, and the allocation does not move. The C core
        // keeps no reference to the parent of a device it has not registered, so the device
        // keeps one.
        unsafe {
            ptr::addr_of_mut!((*this).parent).write(parent.into());
            match PinTracker::new().__init(ptr::addr_of_mut!((*this).pins)) {
                Ok(()) => {}
                Err(infallible) => match infallible {},
            }
            match Callers::new().__init(ptr::addr_of_mut!((*this).callers)) {
                Ok(()) => {}
                Err(infallible) => match infallible {},
            }
            ptr::addr_of_mut!((*this).bus_registration).write(core::cell::UnsafeCell::new(None));
        }

        // INVARIANT: `vdev` was allocated with `T`'s vtable, `parent`, `pins` and `callers` are
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
        // The head starts with a `struct vfio_device`.
        self.vdev.get().cast()
    }

    /// Returns the driver's data.
    pub fn data(&self) -> &T::Data {
        &self.data
    }

    /// Returns the device this VFIO device stands for. It may be unbound by now: the callbacks
    /// get it bound, from [`Locked::parent`] and [`Open::parent`].
    pub fn parent(&self) -> &device::Device {
        &self.parent
    }

    /// Returns the parent as a bound device.
    ///
    /// # Safety
    ///
    /// The device must be registered for `'a`: its registration ends before its parent's unbind
    /// completes.
    unsafe fn bound_parent<'a>(&'a self) -> &'a device::Device<Bound> {
        // SAFETY: The device holds a reference to its parent, which the caller guarantees is
        // bound for `'a`.
        unsafe { device::Device::from_raw(self.parent.as_raw()) }
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
/// The `dev_set->lock` of `dev` is held for `'a`, by the current thread, and `dev` is
/// registered for `'a`.
pub struct Locked<'a, T: DeviceOps> {
    dev: &'a Device<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<'a, T: DeviceOps> Locked<'a, T> {
    /// Wraps `dev`, checking with lockdep that its `dev_set->lock` is held.
    ///
    /// # Safety
    ///
    /// The current thread must hold the `dev_set->lock` of `dev` for `'a`, and `dev` must be
    /// registered for `'a`.
    unsafe fn new(dev: &'a Device<T>) -> Self {
        // SAFETY: `dev` is live.
        unsafe { bindings::vfio_device_assert_dev_set_locked(dev.as_raw()) };
        // INVARIANT: The caller holds the lock, and the device is registered.
        Self {
            dev,
            _not_send: PhantomData,
        }
    }

    /// Returns the device this VFIO device stands for, bound to its driver.
    pub fn parent(&self) -> &device::Device<Bound> {
        // SAFETY: By the type invariants, the device is registered for the lifetime of `self`.
        unsafe { self.dev.bound_parent() }
    }

    /// Returns whether the device is attached to a page table.
    pub fn iommufd_attached(&self) -> bool {
        // SAFETY: The device is live, and the flag (and the byte it shares) only changes under
        // `dev_set->lock`, which is held.
        unsafe { (*self.dev.as_raw()).iommufd_attached() != 0 }
    }

    /// Returns whether `pasid` of the device is attached to a page table. Always false for a
    /// kind without PASIDs ([`Emulated`]), or a device not bound to iommufd.
    pub fn pasid_attached(&self, pasid: u32) -> bool {
        let vdev = self.dev.as_raw();
        // SAFETY: The device is live; its PASIDs, initialised by the bind of a kind that has
        // them and only used while it is bound, only change under `dev_set->lock`, which is held.
        unsafe {
            T::Iommu::PASID_ATTACH.is_some()
                && !(*vdev).iommufd_device.is_null()
                && c_int::try_from(pasid).is_ok_and(|id| {
                    bindings::ida_find_first_range(ptr::addr_of_mut!((*vdev).pasids), pasid, pasid)
                        == id
                })
        }
    }

    /// Calls `f` with each attached PASID of the device, lowest first.
    fn for_each_attached_pasid(&self, mut f: impl FnMut(u32)) {
        if T::Iommu::PASID_ATTACH.is_none() {
            return;
        }
        let vdev = self.dev.as_raw();
        let mut next = 0u32;
        loop {
            // SAFETY: As in `pasid_attached`; `f` gets no access to the device's PASIDs.
            let found = unsafe {
                if (*vdev).iommufd_device.is_null() {
                    return;
                }
                bindings::ida_find_first_range(ptr::addr_of_mut!((*vdev).pasids), next, !0)
            };
            let Ok(pasid) = u32::try_from(found) else {
                return;
            };
            f(pasid);
            match pasid.checked_add(1) {
                Some(n) => next = n,
                None => return,
            }
        }
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
/// `dev` is open (bound to an iommufd context, its `open_device` done), so registered, for `'a`.
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

    /// Returns the device this VFIO device stands for, bound to its driver.
    pub fn parent(&self) -> &device::Device<Bound> {
        // SAFETY: By the type invariants, the device is open, so registered, for the lifetime of
        // `self`.
        unsafe { self.dev.bound_parent() }
    }

    /// Returns the driver's state of this open of the device ([`PerOpen`]).
    pub fn open_data(&self) -> &T::OpenData {
        // SAFETY: By the type invariants, the device is open for the lifetime of `self`: its open
        // callback initialised the open data, which its close callback drops only once user
        // space has closed it, so after every call that has an `Open`. The VFIO core orders the
        // open before these calls (`access_granted`).
        unsafe { &*(*self.dev.open_data.get()).as_ptr() }
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

    /// Copies the bytes of the IOAS the device is attached to at `iova` into `out`, through a
    /// pin of the page that holds them (`vfio_pin_pages`). Fails with `ENOENT` when the device
    /// is not attached, with `EINVAL` when the range is not mapped or not within one page.
    pub fn read_pinned(&self, iova: u64, out: &mut [u8]) -> Result {
        self.with_pinned_page(iova, out.len(), false, |page, offset| {
            // SAFETY: `page` is pinned for the call, `[offset, offset + out.len())` is in it, and
            // `out` is valid for writes of its length.
            unsafe { bindings::memcpy_from_page(out.as_mut_ptr().cast(), page, offset, out.len()) }
        })
    }

    /// Copies `data` into the IOAS the device is attached to at `iova`, through a writable pin
    /// of the page that holds the range (`vfio_pin_pages`). Fails as
    /// [`Open::read_pinned`] does, and with `EPERM` if the range is mapped read-only.
    pub fn write_pinned(&self, iova: u64, data: &[u8]) -> Result {
        self.with_pinned_page(iova, data.len(), true, |page, offset| {
            // SAFETY: `page` is pinned writable for the call, `[offset, offset + data.len())` is
            // in it, and `data` is valid for reads of its length.
            unsafe { bindings::memcpy_to_page(page, offset, data.as_ptr().cast(), data.len()) }
        })
    }

    /// Pins the page of `[iova, iova + len)`, which must be within one page, for reading and,
    /// with `writable`, writing; runs `copy` with the page and the offset of `iova` in it; and
    /// unpins it.
    ///
    /// The page is pinned only while `copy`, a `memcpy` of this module, runs: user space and
    /// devices write it at any time, so no reference to its contents is made, and no driver
    /// code runs while it is pinned. `dma_unmap` waits for the pin (see [`PinTracker`]), so
    /// that when it returns no pin of its range is left, as iommufd requires.
    fn with_pinned_page(
        &self,
        iova: u64,
        len: usize,
        writable: bool,
        copy: impl FnOnce(*mut bindings::page, usize),
    ) -> Result {
        let page_size = bindings::PAGE_SIZE as u64;
        let offset = iova % page_size;
        if offset.checked_add(len as u64).ok_or(EINVAL)? > page_size {
            return Err(EINVAL);
        }
        let base = iova - offset;
        let prot = bindings::IOMMU_READ | if writable { bindings::IOMMU_WRITE } else { 0 };
        let _section = self.pins.enter();
        let mut page = ptr::null_mut();
        // SAFETY: The device is open, `page` is valid for writes of one page pointer.
        let ret =
            unsafe { bindings::vfio_pin_pages(self.as_raw(), base, 1, prot as c_int, &mut page) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        let result = if page.is_null() {
            Err(EFAULT)
        } else {
            copy(page, offset as usize);
            Ok(())
        };
        // SAFETY: The page at `base` was pinned above, for the device, and the copy is done.
        unsafe { bindings::vfio_unpin_pages(self.as_raw(), base, 1) };
        result
    }
}

/// State of a [`Device`] that lives while user space has the device open: made when the VFIO
/// core opens it (its first open, `open_device`), dropped when the VFIO core closes it (its
/// last close, `close_device`). Read with [`Open::open_data`]. State that lives while the
/// parent is bound is [`DeviceOps::Data`].
///
/// `()` is the state of a driver that keeps none.
///
/// # Examples
///
/// The open data is made before `open_device` and dropped after `close_device`, also when
/// `open_device` fails; an open whose data cannot be made fails before `open_device`. The test
/// calls the ops as the VFIO core does, under `dev_set->lock`.
///
/// ```
/// use core::{
///     ptr,
///     sync::atomic::{AtomicU32, Ordering},
/// };
/// use kernel::{bindings, prelude::*, vfio, vfio::testing::TestDevice};
///
/// static MADE: AtomicU32 = AtomicU32::new(0);
/// static DROPPED: AtomicU32 = AtomicU32::new(0);
/// static OPENS: AtomicU32 = AtomicU32::new(0);
///
/// struct Session;
///
/// impl vfio::PerOpen<Sessions> for Session {
///     // Every third open runs out of memory here.
///     fn open(_dev: &vfio::Device<Sessions>) -> impl PinInit<Self, Error> {
///         match MADE.fetch_add(1, Ordering::Relaxed) % 3 {
///             2 => Err(ENOMEM),
///             _ => Ok(Session),
///         }
///     }
/// }
///
/// impl Drop for Session {
///     fn drop(&mut self) {
///         DROPPED.fetch_add(1, Ordering::Relaxed);
///     }
/// }
///
/// struct Sessions;
///
/// #[vtable]
/// impl vfio::DeviceOps for Sessions {
///     type Data = ();
///     type Iommu = vfio::Emulated;
///     type OpenData = Session;
///     const NAME: &'static CStr = c"sessions-vfio";
///
///     // Every second open fails here, after its data was made.
///     fn open_device(_dev: &vfio::Device<Self>) -> Result {
///         match OPENS.fetch_add(1, Ordering::Relaxed) % 2 {
///             1 => Err(EBUSY),
///             _ => Ok(()),
///         }
///     }
/// }
///
/// let dev = TestDevice::<Sessions>::new_faux(())?;
/// let vdev = ptr::from_ref(dev.device()).cast_mut().cast::<bindings::vfio_device>();
/// let counts = || {
///     let made = MADE.load(Ordering::Relaxed);
///     (made, DROPPED.load(Ordering::Relaxed), OPENS.load(Ordering::Relaxed))
/// };
/// // SAFETY: `vdev` is live; the ops are called as the VFIO core calls them, under
/// // `dev_set->lock`, in an order it allows.
/// unsafe {
///     let ops = &*(*vdev).ops;
///     let lock = ptr::addr_of_mut!((*(*vdev).dev_set).lock);
///     bindings::mutex_lock(lock);
///     assert_eq!(ops.open_device.unwrap()(vdev), 0);
///     assert_eq!(counts(), (1, 0, 1));
///     ops.close_device.unwrap()(vdev);
///     assert_eq!(counts(), (1, 1, 1));
///     assert_eq!(ops.open_device.unwrap()(vdev), EBUSY.to_errno());
///     assert_eq!(counts(), (2, 2, 2));
///     assert_eq!(ops.open_device.unwrap()(vdev), ENOMEM.to_errno());
///     assert_eq!(counts(), (3, 2, 2));
///     bindings::mutex_unlock(lock);
/// }
/// drop(dev);
/// assert_eq!(DROPPED.load(Ordering::Relaxed), 2);
/// # Ok::<(), Error>(())
/// ```
pub trait PerOpen<T: DeviceOps>: Send + Sync + Sized {
    /// Makes the state of an open, before [`DeviceOps::open_device`] runs. An error fails the
    /// open.
    fn open(dev: &Device<T>) -> impl PinInit<Self, Error>;
}

impl<T: DeviceOps> PerOpen<T> for () {
    fn open(_dev: &Device<T>) -> impl PinInit<Self, Error> {
        Ok(())
    }
}

/// Bits of a file offset below a region's index: region `index` of a device starts at file
/// offset `index << REGION_SHIFT`, as in vfio-pci (`VFIO_PCI_OFFSET_SHIFT`). The abstraction
/// reports each region's offset so ([`DeviceOps::region_info`]) and decodes it for
/// [`DeviceOps::mmap`].
pub const REGION_SHIFT: u32 = 40;

/// Returns the region index of file offset `offset`, and the offset within that region.
pub const fn region_of(offset: u64) -> (u64, u64) {
    (offset >> REGION_SHIFT, offset & ((1 << REGION_SHIFT) - 1))
}

/// What `VFIO_DEVICE_GET_INFO` reports of a device ([`DeviceOps::device_info`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct DeviceInfo {
    /// `VFIO_DEVICE_FLAGS_*` of the device's type. The abstraction sets
    /// `VFIO_DEVICE_FLAGS_RESET` when the driver implements [`DeviceOps::reset`], and clears it
    /// when neither the driver nor its kind's core answers a reset; it clears
    /// `VFIO_DEVICE_FLAGS_CAPS`.
    pub flags: u32,
    /// The number of regions, indexes `0..num_regions` of [`DeviceOps::region_info`].
    pub num_regions: u32,
    /// The number of interrupt indexes, `0..num_irqs` of [`DeviceOps::irq_info`].
    pub num_irqs: u32,
}

/// The region can be read through the device file.
pub const REGION_READ: u32 = bindings::VFIO_REGION_INFO_FLAG_READ;
/// The region can be written through the device file.
pub const REGION_WRITE: u32 = bindings::VFIO_REGION_INFO_FLAG_WRITE;
/// The region, or the areas of its sparse-mmap capability, can be mapped ([`DeviceOps::mmap`]).
pub const REGION_MMAP: u32 = bindings::VFIO_REGION_INFO_FLAG_MMAP;

/// What `VFIO_DEVICE_GET_REGION_INFO` reports of a region ([`DeviceOps::region_info`]); its
/// offset is the abstraction's (see [`REGION_SHIFT`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct RegionInfo {
    /// The size of the region in bytes.
    pub size: u64,
    /// [`REGION_READ`], [`REGION_WRITE`], [`REGION_MMAP`].
    pub flags: u32,
}

/// The capability chain of a `VFIO_DEVICE_GET_REGION_INFO` reply, which the VFIO core copies
/// to user space after the reply (or reports the size it needs).
pub struct RegionCaps<'a> {
    caps: *mut bindings::vfio_info_cap,
    _call: PhantomData<&'a mut bindings::vfio_info_cap>,
}

impl RegionCaps<'_> {
    /// Adds an entry of `size` bytes with capability `id` of `version`, zeroed past its header.
    fn add(
        &mut self,
        size: usize,
        id: u32,
        version: u16,
    ) -> Result<*mut bindings::vfio_info_cap_header> {
        let id = u16::try_from(id)?;
        // SAFETY: `caps` is the VFIO core's chain for the call, which `vfio_info_cap_add`
        // grows (or frees, on failure).
        from_err_ptr(unsafe { bindings::vfio_info_cap_add(self.caps, size, id, version) })
    }

    /// Adds `VFIO_REGION_INFO_CAP_SPARSE_MMAP`: of the region, only `areas`, each an offset in
    /// the region and a size, can be mapped.
    pub fn add_sparse_mmap(&mut self, areas: &[(u64, u64)]) -> Result {
        type Cap = bindings::vfio_region_info_cap_sparse_mmap;
        type Area = bindings::vfio_region_sparse_mmap_area;
        let nr_areas = u32::try_from(areas.len())?;
        let size = areas
            .len()
            .checked_mul(mem::size_of::<Area>())
            .and_then(|n| n.checked_add(mem::size_of::<Cap>()))
            .ok_or(EINVAL)?;
        let cap = self
            .add(size, bindings::VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1)?
            .cast::<Cap>();
        // SAFETY: `cap` is a zeroed entry of `size` bytes, aligned for `u64`: the capability,
        // then room for `areas`.
        unsafe {
            (*cap).nr_areas = nr_areas;
            let first = cap.add(1).cast::<Area>();
            for (i, &(offset, size)) in areas.iter().enumerate() {
                first.add(i).write(Area { offset, size });
            }
        }
        Ok(())
    }

    /// Adds `VFIO_REGION_INFO_CAP_TYPE`: the region's type and subtype
    /// (`VFIO_REGION_TYPE_*`, `VFIO_REGION_SUBTYPE_*`).
    pub fn add_type(&mut self, ty: u32, subtype: u32) -> Result {
        type Cap = bindings::vfio_region_info_cap_type;
        let cap = self
            .add(
                mem::size_of::<Cap>(),
                bindings::VFIO_REGION_INFO_CAP_TYPE,
                1,
            )?
            .cast::<Cap>();
        // SAFETY: `cap` is a zeroed entry the size of the capability.
        unsafe {
            (*cap).type_ = ty;
            (*cap).subtype = subtype;
        }
        Ok(())
    }
}

/// What `VFIO_DEVICE_GET_IRQ_INFO` reports of an interrupt index ([`DeviceOps::irq_info`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct IrqInfo {
    /// `VFIO_IRQ_INFO_*`: [`IRQ_EVENTFD`], [`IRQ_MASKABLE`], [`IRQ_AUTOMASKED`],
    /// [`IRQ_NORESIZE`].
    pub flags: u32,
    /// The number of interrupts of the index.
    pub count: u32,
}

/// The interrupts of the index can signal an eventfd.
pub const IRQ_EVENTFD: u32 = bindings::VFIO_IRQ_INFO_EVENTFD;
/// The interrupts of the index can be masked.
pub const IRQ_MASKABLE: u32 = bindings::VFIO_IRQ_INFO_MASKABLE;
/// The interrupts of the index mask themselves when they fire.
pub const IRQ_AUTOMASKED: u32 = bindings::VFIO_IRQ_INFO_AUTOMASKED;
/// The number of interrupts of the index cannot change while they are enabled.
pub const IRQ_NORESIZE: u32 = bindings::VFIO_IRQ_INFO_NORESIZE;

/// The action of a `VFIO_DEVICE_SET_IRQS` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqAction {
    /// `VFIO_IRQ_SET_ACTION_MASK`.
    Mask,
    /// `VFIO_IRQ_SET_ACTION_UNMASK`.
    Unmask,
    /// `VFIO_IRQ_SET_ACTION_TRIGGER`.
    Trigger,
}

/// The data of a `VFIO_DEVICE_SET_IRQS` request, one entry per interrupt of its range.
pub enum IrqData {
    /// `VFIO_IRQ_SET_DATA_NONE`: the action applies to every interrupt of the range (with a
    /// trigger: fire them, or, for an empty range, disable the index).
    None,
    /// `VFIO_IRQ_SET_DATA_BOOL`: the action applies to the interrupts whose entry is true.
    Bool(KVec<bool>),
    /// `VFIO_IRQ_SET_DATA_EVENTFD`: the eventfd of each interrupt, `None` where user space
    /// passed a negative descriptor (remove it). The abstraction resolved every descriptor, or
    /// failed the request, before the driver sees it.
    EventFd(KVec<Option<EventFd>>),
}

/// A `VFIO_DEVICE_SET_IRQS` request, checked against [`DeviceOps::device_info`] and
/// [`DeviceOps::irq_info`] (`vfio_set_irqs_validate_and_prepare`).
pub struct IrqSet {
    /// The interrupt index.
    pub index: u32,
    /// The first interrupt of the range.
    pub start: u32,
    /// The number of interrupts in the range, within the index's count.
    pub count: u32,
    /// What to do.
    pub action: IrqAction,
    /// With what.
    pub data: IrqData,
}

/// An eventfd that user space passed to the device: a reference to its `struct eventfd_ctx`.
pub struct EventFd(NonNull<bindings::eventfd_ctx>);

// SAFETY: An eventfd context is reference counted and may be signalled and released from any
// thread.
unsafe impl Send for EventFd {}

// SAFETY: See `Send`: `signal` may run on several threads at once.
unsafe impl Sync for EventFd {}

impl EventFd {
    /// Takes a reference to the eventfd of the current task's file descriptor `fd`.
    pub fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: Any `fd` can be looked up; the context is returned with a reference.
        let ctx = from_err_ptr(unsafe { bindings::eventfd_ctx_fdget(fd) })?;
        Ok(Self(NonNull::new(ctx).ok_or(EINVAL)?))
    }

    /// Adds one to the eventfd's counter, waking its readers.
    pub fn signal(&self) {
        // SAFETY: `self` holds a reference to the context.
        unsafe { bindings::eventfd_signal_mask(self.0.as_ptr(), 0) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: `self` holds a reference to the context, given up here.
        unsafe { bindings::eventfd_ctx_put(self.0.as_ptr()) };
    }
}

/// A page of memory that a device shares with user space: user space maps it
/// ([`UserPage::map`], from [`DeviceOps::mmap`]) and reads and writes it at any time, so the
/// driver only copies to and from it, making no reference to its contents. A mapping holds its
/// own reference to the page, so the page lives as long as the longer of the two.
pub struct UserPage(Page);

impl UserPage {
    /// Allocates a zeroed page.
    pub fn new() -> Result<Self> {
        Ok(Self(Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?))
    }

    /// Checks that `[offset, offset + len)` is within the page.
    fn check(offset: usize, len: usize) -> Result {
        match offset.checked_add(len) {
            Some(end) if end <= PAGE_SIZE => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Copies the bytes at `offset` into `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        Self::check(offset, out.len())?;
        // SAFETY: The range is within the page, which `self` owns; `out` is valid for writes of
        // its length. The copy makes no reference to the page's contents.
        unsafe {
            bindings::memcpy_from_page(out.as_mut_ptr().cast(), self.0.as_ptr(), offset, out.len())
        };
        Ok(())
    }

    /// Copies `data` into the page at `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        Self::check(offset, data.len())?;
        // SAFETY: As in `read`; `data` is valid for reads of its length.
        unsafe {
            bindings::memcpy_to_page(self.0.as_ptr(), offset, data.as_ptr().cast(), data.len())
        };
        Ok(())
    }

    /// Zeroes the page.
    pub fn clear(&self) {
        let zeroes = [0u8; 256];
        for offset in (0..PAGE_SIZE).step_by(zeroes.len()) {
            // The chunks tile the page.
            let _ = self.write(offset, &zeroes);
        }
    }

    /// Maps the page into `vma`, a shared mapping of exactly one page; its size cannot change
    /// afterwards (`VM_DONTEXPAND`).
    pub fn map(&self, vma: &VmaNew) -> Result {
        if vma.end() - vma.start() != PAGE_SIZE || vma.flags() & vm_flags::SHARED == 0 {
            return Err(EINVAL);
        }
        vma.set_dontexpand();
        vma.set_mixedmap().vm_insert_page(vma.start(), &self.0)
    }
}

type BindFn =
    unsafe extern "C" fn(*mut bindings::vfio_device, *mut bindings::iommufd_ctx, *mut u32) -> c_int;
type AttachFn = unsafe extern "C" fn(*mut bindings::vfio_device, *mut u32) -> c_int;
type DeviceFn = unsafe extern "C" fn(*mut bindings::vfio_device);
type OpenFn = unsafe extern "C" fn(*mut bindings::vfio_device) -> c_int;
/// Registers a device of a kind, which an [`UnregisterFn`] of the kind undoes.
type RegisterFn = unsafe fn(*mut bindings::vfio_device) -> c_int;
type UnregisterFn = unsafe fn(*mut bindings::vfio_device);
type PasidAttachFn = unsafe extern "C" fn(*mut bindings::vfio_device, u32, *mut u32) -> c_int;
type PasidDetachFn = unsafe extern "C" fn(*mut bindings::vfio_device, u32);

mod private {
    pub trait Sealed {}
}

/// How a device reaches memory, which decides the VFIO core's iommufd helpers it uses, the C
/// structure it starts with and the core callbacks it forwards to: [`Physical`], [`Emulated`], or
/// `vfio::pci::Core` (a vfio-pci variant driver's device).
pub trait IommuKind: private::Sealed + Sized {
    /// The C structure a device of this kind starts with, which starts with a
    /// `struct vfio_device`.
    #[doc(hidden)]
    type Head;
    /// The callbacks of the C core the device forwards to where the driver has no method; the
    /// abstraction sets `name`, `release`, `open_device` (see `OPEN`), the iommufd callbacks and
    /// `dma_unmap` itself.
    #[doc(hidden)]
    const BASE_OPS: bindings::vfio_device_ops;
    /// What `release` does for the C core before the abstraction drops its own fields.
    #[doc(hidden)]
    const RELEASE: Option<DeviceFn>;
    /// What `open_device` does for the C core before [`DeviceOps::open_device`] runs, what it
    /// does after it succeeded, and what undoes the first if it failed.
    #[doc(hidden)]
    const OPEN: Option<(OpenFn, DeviceFn, DeviceFn)>;
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
}

/// A kind of device that registers on its own, with [`Registration`], as opposed to a device
/// that its bus driver glue registers (`vfio::pci::Core`).
pub trait Standalone: IommuKind {
    #[doc(hidden)]
    /// Registers `vdev`.
    ///
    /// # Safety
    ///
    /// `vdev` must be an allocated, unregistered VFIO device.
    unsafe fn register(vdev: *mut bindings::vfio_device) -> c_int;
}

/// All zeroes: no callback of the C core.
// SAFETY: All zeroes is a valid `vfio_device_ops`, every callback `None`.
const NO_OPS: bindings::vfio_device_ops = unsafe { mem::zeroed() };

/// A device behind an IOMMU: bound to iommufd as an `iommufd_device`, attached to IOMMU page
/// tables, registered with `vfio_register_group_dev`. Its PASIDs are attached and detached by
/// the VFIO core's `vfio_iommufd_physical_pasid_*()` helpers, as vfio-pci's are; a device
/// without PASID support fails those requests in iommufd.
pub enum Physical {}

impl private::Sealed for Physical {}

impl IommuKind for Physical {
    type Head = bindings::vfio_device;
    const BASE_OPS: bindings::vfio_device_ops = NO_OPS;
    const RELEASE: Option<DeviceFn> = None;
    const OPEN: Option<(OpenFn, DeviceFn, DeviceFn)> = None;
    const BIND: BindFn = bindings::vfio_iommufd_physical_bind;
    const UNBIND: DeviceFn = bindings::vfio_iommufd_physical_unbind;
    const ATTACH: AttachFn = bindings::vfio_iommufd_physical_attach_ioas;
    const DETACH: DeviceFn = bindings::vfio_iommufd_physical_detach_ioas;
    const PASID_ATTACH: Option<PasidAttachFn> =
        Some(bindings::vfio_iommufd_physical_pasid_attach_ioas);
    const PASID_DETACH: Option<PasidDetachFn> =
        Some(bindings::vfio_iommufd_physical_pasid_detach_ioas);
    const EMULATED: bool = false;
}

impl Standalone for Physical {
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
    type Head = bindings::vfio_device;
    const BASE_OPS: bindings::vfio_device_ops = NO_OPS;
    const RELEASE: Option<DeviceFn> = None;
    const OPEN: Option<(OpenFn, DeviceFn, DeviceFn)> = None;
    const BIND: BindFn = bindings::vfio_iommufd_emulated_bind;
    const UNBIND: DeviceFn = bindings::vfio_iommufd_emulated_unbind;
    const ATTACH: AttachFn = bindings::vfio_iommufd_emulated_attach_ioas;
    const DETACH: DeviceFn = bindings::vfio_iommufd_emulated_detach_ioas;
    // An `iommufd_access` has no PASIDs: the VFIO core fails PASID requests without them.
    const PASID_ATTACH: Option<PasidAttachFn> = None;
    const PASID_DETACH: Option<PasidDetachFn> = None;
    const EMULATED: bool = true;
}

impl Standalone for Emulated {
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
/// not compile, and are paired on every path: each successful `bind_iommufd` is followed by one
/// `unbind_iommufd`, and each time the device becomes attached (an `attach_ioas` that sees
/// `Ok` while it was not attached) is followed by one `detach_ioas`, whether user space detaches
/// the device or unbinds it while attached.
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
///     type OpenData = ();
///     const NAME: &'static CStr = c"my-vfio";
/// }
/// ```
///
/// A driver with work to do when the device is attached overrides `attach_ioas` and
/// `detach_ioas`; the attach itself is the VFIO core's, and the hook sees its result:
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
///     type OpenData = ();
///     const NAME: &'static CStr = c"logging-vfio";
///
///     fn attach_ioas(dev: &vfio::Locked<'_, Self>, attached: Result<u32>) {
///         match attached {
///             Ok(pt_id) => dev_info!(dev.parent(), "attached to {}\n", pt_id),
///             Err(e) => dev_info!(dev.parent(), "attach failed: {:?}\n", e),
///         }
///     }
///
///     fn detach_ioas(dev: &vfio::Locked<'_, Self>) {
///         dev_info!(dev.parent(), "detaching\n");
///     }
/// }
/// ```
#[vtable]
pub trait DeviceOps: Sized + 'static {
    /// The driver's data, stored in the [`Device`] and initialised in place; it lives while the
    /// device does, which the VFIO core calls only while the parent is bound.
    type Data: Send + Sync;

    /// The driver's state of an open of the device ([`PerOpen`]), `()` for none.
    type OpenData: PerOpen<Self>;

    /// How the device reaches memory: [`Physical`] or [`Emulated`].
    type Iommu: IommuKind;

    /// The driver's name (`vfio_device_ops.name`).
    const NAME: &'static CStr;

    /// Prepares the device for user space, when it opens the device, after its
    /// [`DeviceOps::OpenData`] is made. An error fails the open.
    fn open_device(_dev: &Device<Self>) -> Result {
        Ok(())
    }

    /// Undoes [`DeviceOps::open_device`], when user space closes the device, before its
    /// [`DeviceOps::OpenData`] is dropped.
    fn close_device(_dev: &Device<Self>) {}

    /// Runs after the VFIO core bound the device to an iommufd context as `device_id`. An
    /// error unbinds the device again, and fails the bind; then no `unbind_iommufd` follows.
    fn bind_iommufd(_dev: &Locked<'_, Self>, _device_id: u32) -> Result {
        Ok(())
    }

    /// Runs before the VFIO core unbinds the device; if the device is attached,
    /// [`DeviceOps::detach_ioas`] has run just before, as the unbind detaches it.
    fn unbind_iommufd(_dev: &Locked<'_, Self>) {}

    /// Runs after the VFIO core attached the device to a page table, or replaced the one it was
    /// attached to, with the result: `Ok(pt_id)`, the page table the device is attached to now
    /// (for an IOAS of a [`Physical`] device, the HWPT the core attached it through), or the
    /// core's error, with the device as it was.
    fn attach_ioas(_dev: &Locked<'_, Self>, _attached: Result<u32>) {}

    /// Runs before the VFIO core detaches the device, each time it stops being attached: on a
    /// detach request while it is attached, and before an unbind while it is attached. Not
    /// called when it is not attached.
    fn detach_ioas(_dev: &Locked<'_, Self>) {}

    /// As [`DeviceOps::attach_ioas`], for `pasid` of the device: runs after the VFIO core
    /// attached it, or replaced its page table, with the result. Only for the kinds with
    /// PASIDs ([`Physical`]); overriding it for [`Emulated`] does not compile.
    fn pasid_attach_ioas(_dev: &Locked<'_, Self>, _pasid: u32, _attached: Result<u32>) {}

    /// As [`DeviceOps::detach_ioas`], for `pasid`: runs before the VFIO core detaches it, each
    /// time it stops being attached, on a detach request or an unbind (before the device's
    /// own `detach_ioas`, as the core detaches the PASIDs first).
    fn pasid_detach_ioas(_dev: &Locked<'_, Self>, _pasid: u32) {}

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

    /// Answers `VFIO_DEVICE_GET_INFO`. The abstraction checks and copies the arguments.
    fn device_info(_dev: &Open<'_, Self>) -> Result<DeviceInfo> {
        Err(ENOTTY)
    }

    /// Answers `VFIO_DEVICE_GET_REGION_INFO` for region `index`, adding its capabilities to
    /// `caps`; `EINVAL` for an index the device does not have. The region's offset is
    /// `index << REGION_SHIFT`.
    fn region_info(
        _dev: &Open<'_, Self>,
        _index: u32,
        _caps: &mut RegionCaps<'_>,
    ) -> Result<RegionInfo> {
        Err(EINVAL)
    }

    /// Answers `VFIO_DEVICE_GET_IRQ_INFO` for interrupt index `index`, below
    /// [`DeviceInfo::num_irqs`]; `EINVAL` for one the device does not have.
    fn irq_info(_dev: &Open<'_, Self>, _index: u32) -> Result<IrqInfo> {
        Err(EINVAL)
    }

    /// Carries out `VFIO_DEVICE_SET_IRQS`, a request the abstraction checked against
    /// [`DeviceOps::device_info`] and [`DeviceOps::irq_info`], with its data copied in and its
    /// eventfds resolved. Overridden with [`DeviceOps::irq_info`], or neither.
    fn set_irqs(_dev: &Open<'_, Self>, _set: IrqSet) -> Result {
        Err(EINVAL)
    }

    /// Carries out `VFIO_DEVICE_RESET`; with it, [`DeviceInfo::flags`] has
    /// `VFIO_DEVICE_FLAGS_RESET`.
    fn reset(_dev: &Open<'_, Self>) -> Result {
        Err(ENOTTY)
    }

    /// Maps `vma` at `offset` of region `index` (the abstraction decodes the file offset), for
    /// instance with [`UserPage::map`].
    fn mmap(_dev: &Open<'_, Self>, _vma: &VmaNew, _index: u64, _offset: u64) -> Result {
        Err(EINVAL)
    }

    /// Asks user space to close the device, as its unregistration waits for that: called
    /// again, with `count` the number of times before, until it is closed. Then, for a kind
    /// with one, the VFIO core's request runs.
    fn request(_dev: &Device<Self>, _count: u32) {}
}

/// A registered [`Device`]: user space can find and open it until this is dropped or its
/// parent is unbound, whichever comes first; unregistering waits until user space has closed it.
///
/// It borrows its parent, bound to a driver, for `'a`: a bus driver makes it in `probe`, keeps
/// it in its driver data and drops it in its unbind, as `auxiliary::Registration` and
/// `fwctl::Registration` are kept. The unregistration is a [`Devres`] of the parent, so a
/// registration that is never dropped (`mem::forget`) still ends when the parent is unbound,
/// before the unbind completes: the device's callbacks, which see the parent bound, never run
/// after it.
///
/// The borrow keeps a registration out of the device's own data and out of statics, where its
/// callbacks could reach it. A registration on a parent borrowed for `'static`, which only a
/// parent that is never unbound gives, can be dropped from one all the same: unregistering
/// there would wait for the call that drops it to return, so the unregistration is handed to a
/// work item instead (`system_long`), allocated when the registration is made.
///
/// The VFIO core keeps the module of the parent's driver loaded while the device is open, and
/// that module's unloading unbinds the parent, which ends the registration. The module of `T`
/// may differ (a faux parent): the abstraction keeps it loaded while the device is open too,
/// so unloading it fails then, and an open fails with `ENODEV` once it is being unloaded. A
/// registration still alive when `T`'s module has been unloaded (its exit has returned), which
/// only one that is never dropped is, ends then, before the module's memory is freed, so no
/// callback runs in an unloaded module. The registration does not keep the module loaded
/// itself: a module could then never unload the device it registers on its own faux device.
///
/// # Examples
///
/// A registration on a faux device, which is bound while its [`faux::Registration`] lives:
///
/// ```
/// use kernel::{faux, prelude::*, vfio};
///
/// struct Faux;
///
/// #[vtable]
/// impl vfio::DeviceOps for Faux {
///     type Data = ();
///     type Iommu = vfio::Emulated;
///     type OpenData = ();
///     const NAME: &'static CStr = c"faux-vfio";
/// }
///
/// let parent = faux::Registration::new(c"vfio-registration-example", None)?;
/// let reg = vfio::Registration::<Faux>::new(parent.as_ref().as_ref(), ())?;
/// let bound: &kernel::device::Device = parent.as_ref().as_ref();
/// assert!(core::ptr::eq(reg.device().parent(), bound));
/// drop(reg);
/// # Ok::<(), Error>(())
/// ```
///
/// The tests below hold the parent for `'static` with `unsafe` code, to do what only a parent
/// that is never unbound lets safe code do. A registration still alive when its parent is
/// unbound, as one that is never dropped, ends there:
///
/// ```
/// use core::ptr;
/// use kernel::{bindings, device, faux, prelude::*, vfio};
///
/// struct Faux;
///
/// #[vtable]
/// impl vfio::DeviceOps for Faux {
///     type Data = ();
///     type Iommu = vfio::Emulated;
///     type OpenData = ();
///     const NAME: &'static CStr = c"faux-vfio";
/// }
///
/// let parent = faux::Registration::new(c"vfio-unbound-first", None)?;
/// let parent = KBox::into_raw(KBox::new(parent, GFP_KERNEL)?);
/// // SAFETY: `parent` lives until it is taken back below, after which `bound` is not used.
/// let bound: &'static device::Device<device::Bound> = unsafe { (*parent).as_ref().as_ref() };
/// let reg = vfio::Registration::<Faux>::new(bound, ())?;
/// let vdev = ptr::from_ref(reg.device()).cast_mut().cast::<bindings::vfio_device>();
/// // SAFETY: `reg` holds a reference to the device.
/// let registered = move || unsafe { (*vdev).device.kobj.state_in_sysfs() != 0 };
/// assert!(registered());
/// // SAFETY: `parent` comes from `KBox::into_raw` above.
/// drop(unsafe { KBox::from_raw(parent) });
/// assert!(!registered());
/// drop(reg);
/// # Ok::<(), Error>(())
/// ```
///
/// A registration dropped from its device's own callback is unregistered by a work item, once
/// the callback has returned:
///
/// ```
/// use core::ptr;
/// use kernel::{
///     bindings, device, faux, new_mutex, prelude::*, sync::Mutex,
///     time::{delay::fsleep, Delta}, vfio,
/// };
///
/// struct SelfDropping;
///
/// #[vtable]
/// impl vfio::DeviceOps for SelfDropping {
///     type Data = Mutex<Option<vfio::Registration<'static, SelfDropping>>>;
///     type Iommu = vfio::Emulated;
///     type OpenData = ();
///     const NAME: &'static CStr = c"self-dropping-vfio";
///
///     fn close_device(dev: &vfio::Device<Self>) {
///         drop(dev.data().lock().take());
///     }
/// }
///
/// let parent = faux::Registration::new(c"vfio-self-dropping", None)?;
/// let parent = KBox::into_raw(KBox::new(parent, GFP_KERNEL)?);
/// // SAFETY: `parent` lives until it is taken back below, after which `bound` is not used.
/// let bound: &'static device::Device<device::Bound> = unsafe { (*parent).as_ref().as_ref() };
/// let reg = vfio::Registration::<SelfDropping>::new(bound, new_mutex!(None))?;
/// let vdev = ptr::from_ref(reg.device()).cast_mut().cast::<bindings::vfio_device>();
/// // SAFETY: The device's data holds the registration, which holds a reference to the device,
/// // and the test holds one from here on.
/// unsafe { bindings::get_device(ptr::addr_of_mut!((*vdev).device)) };
/// // SAFETY: The test holds a reference to the device.
/// let registered = move || unsafe { (*vdev).device.kobj.state_in_sysfs() != 0 };
/// let data = reg.device().data();
/// // SAFETY: The test's reference keeps the data.
/// let data = unsafe { &*ptr::from_ref(data) };
/// *data.lock() = Some(reg);
/// // SAFETY: The op is called as the VFIO core calls it, under `dev_set->lock`, while the file of
/// // the device holds a reference to its registration, which it drops after the call.
/// unsafe {
///     bindings::refcount_inc(ptr::addr_of_mut!((*vdev).refcount));
///     let lock = ptr::addr_of_mut!((*(*vdev).dev_set).lock);
///     bindings::mutex_lock(lock);
///     (*(*vdev).ops).close_device.unwrap()(vdev);
///     assert!(data.lock().is_none());
///     bindings::mutex_unlock(lock);
///     if bindings::refcount_dec_and_test(ptr::addr_of_mut!((*vdev).refcount)) {
///         bindings::complete(ptr::addr_of_mut!((*vdev).comp));
///     }
/// }
/// let mut waited = 0;
/// while registered() && waited < 1000 {
///     fsleep(Delta::from_millis(10));
///     waited += 1;
/// }
/// assert!(!registered());
/// // SAFETY: The reference taken above; `parent` comes from `KBox::into_raw` above.
/// unsafe {
///     bindings::vfio_put_device(vdev);
///     drop(KBox::from_raw(parent));
/// }
/// # Ok::<(), Error>(())
/// ```
///
/// [`faux::Registration`]: crate::faux::Registration
///
/// # Invariants
///
/// `dev` is registered with the VFIO core until `unregister` is dropped or revoked, which
/// happens at the latest when the parent is unbound.
pub struct Registration<'a, T: DeviceOps> {
    dev: ARef<Device<T>>,
    unregister: Option<Pin<KBox<Unregister>>>,
    _parent: PhantomData<&'a device::Device<Bound>>,
}

impl<'a, T: DeviceOps> Registration<'a, T>
where
    T::Iommu: Standalone,
{
    /// Allocates a device of driver `T` whose data `data` initialises in place and whose parent
    /// is `parent`, and registers it as its [`DeviceOps::Iommu`] kind requires.
    ///
    /// Fails with `ENODEV` if `T`'s module is not the parent driver's (see [`Registration`]) and
    /// its unloading ended the registration while it was being made.
    pub fn new<E>(parent: &'a device::Device<Bound>, data: impl PinInit<T::Data, E>) -> Result<Self>
    where
        Error: From<E>,
    {
        let dev = Device::<T>::new(parent, data)?;
        let registered = Registered::new(
            parent,
            dev.as_raw(),
            (T::Iommu::register, unregister_group_dev),
            this_module::<T::OwnerModule>(),
        )?;
        let unregister = Unregister::new(parent, registered)?;
        // INVARIANT: `dev` was registered just now, until `unregister` is dropped or revoked.
        Ok(Self {
            dev,
            unregister: Some(unregister),
            _parent: PhantomData,
        })
    }
}

impl<T: DeviceOps> Registration<'_, T> {
    /// Returns the registered device.
    pub fn device(&self) -> &Device<T> {
        &self.dev
    }
}

impl<T: DeviceOps> Drop for Registration<'_, T> {
    fn drop(&mut self) {
        let Some(unregister) = self.unregister.take() else {
            return;
        };
        if self.dev.callers.current_inside() {
            if !Unregister::defer(unregister, this_module::<T::OwnerModule>()) {
                // The device's release is the module's code, which will be gone: it must not
                // come.
                mem::forget(self.dev.clone());
            }
        } else {
            drop(unregister);
        }
    }
}

/// A device registered with the VFIO core, which it unregisters when dropped.
///
/// Nothing here is generic: its code is the kernel's, never a module's, so a work item that runs
/// it, or the module notifier of [`ModuleGoing`], runs no code of the driver's module but the
/// device's own callbacks (`request` while it unregisters the device, `release` when it drops
/// the last reference); [`Registration`] and [`Unregister::defer`] say why that module is still
/// loaded then.
///
/// # Invariants
///
/// `vdev` holds a reference counted here. It is registered, unless `going` is set and
/// [`ModuleGoing::stop`] says it is not: then it was unregistered when its module was unloaded.
struct Registered {
    vdev: NonNull<bindings::vfio_device>,
    unregister: UnregisterFn,
    going: Option<Pin<KBox<ModuleGoing>>>,
}

/// Unregisters a device registered with `vfio_register_group_dev` or
/// `vfio_register_emulated_iommu_dev`.
///
/// # Safety
///
/// `vdev` must be registered.
unsafe fn unregister_group_dev(vdev: *mut bindings::vfio_device) {
    // SAFETY: The caller passes a registered device.
    unsafe { bindings::vfio_unregister_group_dev(vdev) };
}

// SAFETY: A device can be unregistered, and a notifier unregistered, from any thread.
unsafe impl Send for Registered {}

impl Registered {
    /// Registers `vdev` with the first of `ops`, which the second undoes. If `module`, the
    /// module of the device's callbacks, is not the module of `parent`'s driver (whose unbind,
    /// when it is unloaded, ends the registration) and not built in, the device is also
    /// unregistered when `module` is unloaded, if this has not ended by then.
    ///
    /// `vdev` must be an allocated, unregistered device whose parent is `parent`, and `ops` the
    /// registration functions of its kind.
    fn new(
        parent: &device::Device<Bound>,
        vdev: *mut bindings::vfio_device,
        ops: (RegisterFn, UnregisterFn),
        module: &'static ThisModule,
    ) -> Result<Self> {
        let (register, unregister) = ops;
        let module = module.as_ptr();
        // SAFETY: `parent` is bound, so its driver is set and stays set while it is borrowed.
        let owner = unsafe { (*(*parent.as_raw()).driver).owner };
        let going = if module.is_null() || module == owner {
            None
        } else {
            Some(ModuleGoing::new(vdev, unregister, module)?)
        };
        // SAFETY: `vdev` is allocated and not registered; `register` is its kind's.
        to_result(unsafe { register(vdev) })?;
        if let Some(Err(e)) = going.as_ref().map(|going| going.registered()) {
            // `module` went while the device was being registered, and its notifier found
            // nothing to unregister.
            drop(going);
            // SAFETY: `vdev` was registered just now.
            unsafe { unregister(vdev) };
            return Err(e);
        }
        // SAFETY: `vdev` is live; the reference is dropped with `Self`.
        unsafe { bindings::get_device(ptr::addr_of_mut!((*vdev).device)) };
        // INVARIANT: `vdev` was registered just now, and holds the reference taken above.
        Ok(Self {
            // SAFETY: `vdev` is live, so not null.
            vdev: unsafe { NonNull::new_unchecked(vdev) },
            unregister,
            going,
        })
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let registered = self.going.as_ref().is_none_or(|going| going.stop());
        // SAFETY: By the type invariants the device holds a reference, and is registered if
        // `registered` is set, the notifier that could unregister it being stopped. It is
        // unregistered once, here or by the notifier, then the notifier is freed and the
        // reference dropped: the last one releases the device, whose release callback is in
        // the module of its ops.
        unsafe {
            if registered {
                (self.unregister)(self.vdev.as_ptr());
            }
            self.going = None;
            bindings::vfio_put_device(self.vdev.as_ptr());
        }
    }
}

/// The device is not registered yet.
const GOING_UNREGISTERED: u8 = 0;
/// The device is registered, and the notifier unregisters it.
const GOING_REGISTERED: u8 = 1;
/// The module went: the notifier unregistered the device, or it must not be registered.
const GOING_DONE: u8 = 2;

/// The end of a registration when the module of its device's callbacks is unloaded: a module
/// notifier that, once the module's exit has returned (`MODULE_STATE_GOING`), before its memory
/// is freed, unregisters the device if the registration is still alive, as only one that is
/// never dropped is.
///
/// # Invariants
///
/// `nb` is registered on the module notifier chain until `linked` is cleared, which happens
/// before `self` is freed. `vdev` is live while `nb` is registered, and registered while
/// `state` is [`GOING_REGISTERED`].
#[repr(C)]
struct ModuleGoing {
    // First: `notify` finds `self` from it.
    nb: Opaque<bindings::notifier_block>,
    vdev: *mut bindings::vfio_device,
    unregister: UnregisterFn,
    module: *mut bindings::module,
    state: AtomicU8,
    linked: AtomicBool,
}

// SAFETY: Its fields are only read, or atomics, and the device can be unregistered from any
// thread.
unsafe impl Send for ModuleGoing {}
// SAFETY: See above.
unsafe impl Sync for ModuleGoing {}

impl ModuleGoing {
    /// Watches for the unloading of `module`, the module of the callbacks of `vdev`, a live
    /// device not registered yet, which `unregister` unregisters once it is.
    fn new(
        vdev: *mut bindings::vfio_device,
        unregister: UnregisterFn,
        module: *mut bindings::module,
    ) -> Result<Pin<KBox<Self>>> {
        // SAFETY: All zeroes is a `notifier_block`: no callback, no next, priority 0.
        let mut nb: bindings::notifier_block = unsafe { mem::zeroed() };
        nb.notifier_call = Some(Self::notify);
        let this = KBox::pin(
            Self {
                nb: Opaque::new(nb),
                vdev,
                unregister,
                module,
                state: AtomicU8::new(GOING_UNREGISTERED),
                linked: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `nb` is pinned, and unregistered by `stop` before it is freed.
        to_result(unsafe { bindings::register_module_notifier(this.nb.get()) })?;
        // INVARIANT: `nb` was registered just now.
        this.linked.store(true, Ordering::Release);
        Ok(this)
    }

    /// Says that the device was registered; fails with `ENODEV` if the module went meanwhile,
    /// and then the device must be unregistered by the caller.
    fn registered(&self) -> Result {
        match self.state.compare_exchange(
            GOING_UNREGISTERED,
            GOING_REGISTERED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Ok(()),
            Err(_) => Err(ENODEV),
        }
    }

    /// Stops watching, waiting for the notifier if it runs, and returns whether the device
    /// is still registered, its unregistration the caller's.
    fn stop(&self) -> bool {
        if self.linked.swap(false, Ordering::AcqRel) {
            // SAFETY: `nb` is registered by the type invariants; unregistering it waits for the
            // calls of the chain that run, so the notifier has unregistered the device if it
            // went to.
            unsafe { bindings::unregister_module_notifier(self.nb.get()) };
        }
        self.state.load(Ordering::Acquire) == GOING_REGISTERED
    }

    /// # Safety
    ///
    /// Called by the module notifier chain, with `nb` the `nb` of a live [`ModuleGoing`].
    unsafe extern "C" fn notify(
        nb: *mut bindings::notifier_block,
        state: c_ulong,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: `nb` is the first field of a `ModuleGoing` (`repr(C)`), which is live: it is
        // freed only after `stop` unregistered `nb`, which waits for the calls that run.
        let this = unsafe { &*nb.cast::<Self>() };
        if state == bindings::module_state_MODULE_STATE_GOING as c_ulong
            && data.cast::<bindings::module>() == this.module
            && this.state.swap(GOING_DONE, Ordering::AcqRel) == GOING_REGISTERED
        {
            // SAFETY: `vdev` is live while `nb` is registered, and was registered until the
            // swap above, which makes its unregistration this call's.
            unsafe { (this.unregister)(this.vdev) };
        }
        bindings::NOTIFY_DONE as c_int
    }
}

impl Drop for ModuleGoing {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The unregistration of a [`Registered`] device: a [`Devres`] of its parent, in a work item
/// that can drop it later.
#[pin_data]
struct Unregister {
    #[pin]
    work: Work<Unregister>,
    devres: Devres<Registered>,
    /// Null, or the module of the device's callbacks that a deferred unregistration keeps
    /// loaded: the device's last reference may go there, and its release is that module's.
    module: AtomicPtr<bindings::module>,
}

impl_has_work! {
    impl HasWork<Self> for Unregister { self.work }
}

impl WorkItem for Unregister {
    type Pointer = Pin<KBox<Self>>;

    fn run(this: Pin<KBox<Self>>) {
        let module = this.module.load(Ordering::Relaxed);
        drop(this);
        // SAFETY: `defer` took the reference; this code is the kernel's, not the module's.
        unsafe { bindings::module_put(module) };
    }
}

impl Unregister {
    /// Puts the unregistration of `registered` into a devres action of `parent` and a work item.
    fn new(parent: &device::Device<Bound>, registered: Registered) -> Result<Pin<KBox<Self>>> {
        let devres = Devres::new(parent, registered)?;
        KBox::pin_init(
            pin_init!(Self {
                work <- new_work!("vfio::Registration::unregister"),
                devres,
                module: AtomicPtr::new(ptr::null_mut()),
            }),
            GFP_KERNEL,
        )
    }

    /// Unregisters the device on `system_long`, outside the callback that drops the
    /// registration (unregistering waits for that callback to return), keeping `module`, the
    /// module of the device's callbacks, loaded until it is done.
    ///
    /// Returns `false` if `module` is being unloaded: only a callback outside an open, which
    /// does not keep the module loaded, gets there (`unbind_iommufd` after the last close). The
    /// module's code cannot run later, and unregistering here would wait for the very callback:
    /// the unregistration stays with the parent's unbind and the module's unloading, whichever
    /// comes first, and the caller must keep the device from being released.
    fn defer(this: Pin<KBox<Self>>, module: &'static ThisModule) -> bool {
        let module = module.as_ptr();
        // SAFETY: `module` is the module of the caller's code, which is running.
        if !unsafe { bindings::try_module_get(module) } {
            crate::pr_err!("vfio: registration dropped in its callback while its module unloads\n");
            mem::forget(this);
            return false;
        }
        this.module.store(module, Ordering::Relaxed);
        workqueue::system_long().enqueue(this);
        true
    }
}

/// `VFIO_DEVICE_GET_INFO`.
const GET_INFO: c_uint = ioctl::_IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 7);
/// `VFIO_DEVICE_GET_IRQ_INFO`.
const GET_IRQ_INFO: c_uint = ioctl::_IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 9);
/// `VFIO_DEVICE_SET_IRQS`.
const SET_IRQS: c_uint = ioctl::_IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 10);
/// `VFIO_DEVICE_RESET`.
const RESET: c_uint = ioctl::_IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 11);

/// Reads the first `len` bytes of an ioctl's argument structure `S` from user address `arg`;
/// the rest of it is zero. Fails with `EINVAL` if its `argsz`, the first field of every VFIO
/// argument structure, is below `len`.
///
/// `S` must be such a uAPI structure of integers, for which any bytes are a value.
fn read_arg<S>(arg: UserPtr, len: usize) -> Result<S> {
    build_assert!(mem::size_of::<S>() <= 64);
    if len > mem::size_of::<S>() || len < mem::size_of::<u32>() {
        return Err(EINVAL);
    }
    let mut bytes = [0u8; 64];
    UserSlice::new(arg, len)
        .reader()
        .read_slice(&mut bytes[..len])?;
    let argsz = u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if (argsz as usize) < len {
        return Err(EINVAL);
    }
    // SAFETY: `bytes` holds at least `size_of::<S>()` bytes, and any bytes are an `S`.
    Ok(unsafe { ptr::read_unaligned(bytes.as_ptr().cast::<S>()) })
}

/// Writes the first `len` bytes of `value` to user address `arg`.
fn write_arg<S>(arg: UserPtr, value: &S, len: usize) -> Result {
    if len > mem::size_of::<S>() {
        return Err(EINVAL);
    }
    // SAFETY: `value` is valid for reads of `size_of::<S>()` bytes, and a uAPI structure has no
    // padding bytes.
    let bytes = unsafe { core::slice::from_raw_parts(ptr::from_ref(value).cast::<u8>(), len) };
    UserSlice::new(arg, len).writer().write_slice(bytes)
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
        assert!(
            T::HAS_PASID_ATTACH_IOAS == T::HAS_PASID_DETACH_IOAS,
            "a vfio::DeviceOps that overrides pasid_attach_ioas must override pasid_detach_ioas, \
             and the reverse"
        );
        assert!(
            T::Iommu::PASID_ATTACH.is_some() || !T::HAS_PASID_ATTACH_IOAS,
            "a vfio::DeviceOps whose kind has no PASIDs cannot hook their attach and detach"
        );
        assert!(
            T::HAS_IRQ_INFO == T::HAS_SET_IRQS,
            "a vfio::DeviceOps that overrides irq_info must override set_irqs, and the reverse"
        );
        assert!(
            T::Iommu::BASE_OPS.ioctl.is_some()
                || T::HAS_DEVICE_INFO
                || !(T::HAS_REGION_INFO || T::HAS_IRQ_INFO || T::HAS_RESET),
            "a vfio::DeviceOps with regions, interrupts or a reset must override device_info, \
             which counts them"
        );
        assert!(
            T::Iommu::BASE_OPS.get_region_info_caps.is_some() || T::HAS_REGION_INFO || !T::HAS_MMAP,
            "a vfio::DeviceOps that overrides mmap must override region_info, which says what \
             can be mapped"
        );
    };

    /// Whether the driver answers one of the device ioctls itself.
    const HAS_IOCTL: bool = T::HAS_DEVICE_INFO || T::HAS_IRQ_INFO || T::HAS_RESET;

    const VTABLE: bindings::vfio_device_ops = {
        #[allow(clippy::let_unit_value)]
        let () = Self::OVERRIDES;

        bindings::vfio_device_ops {
            name: as_char_ptr_in_const_context(T::NAME).cast_mut(),
            init: T::Iommu::BASE_OPS.init,
            release: Some(Self::release_callback),
            bind_iommufd: Some(if T::HAS_BIND_IOMMUFD {
                Self::bind_iommufd_callback
            } else {
                T::Iommu::BIND
            }),
            // The unbind detaches an attached device, which the detach hooks must see.
            unbind_iommufd: Some(
                if T::HAS_UNBIND_IOMMUFD || T::HAS_DETACH_IOAS || T::HAS_PASID_DETACH_IOAS {
                    Self::unbind_iommufd_callback
                } else {
                    T::Iommu::UNBIND
                },
            ),
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
            pasid_attach_ioas: if T::HAS_PASID_ATTACH_IOAS {
                Some(Self::pasid_attach_ioas_callback)
            } else {
                T::Iommu::PASID_ATTACH
            },
            pasid_detach_ioas: if T::HAS_PASID_DETACH_IOAS {
                Some(Self::pasid_detach_ioas_callback)
            } else {
                T::Iommu::PASID_DETACH
            },
            // The trampolines make and drop the open data, and run the kind's own part of the
            // open and close, if it has one.
            open_device: Some(Self::open_device_callback),
            close_device: Some(Self::close_device_callback),
            read: if T::HAS_READ {
                Some(Self::read_callback)
            } else {
                T::Iommu::BASE_OPS.read
            },
            write: if T::HAS_WRITE {
                Some(Self::write_callback)
            } else {
                T::Iommu::BASE_OPS.write
            },
            ioctl: if Self::HAS_IOCTL {
                Some(Self::ioctl_callback)
            } else {
                T::Iommu::BASE_OPS.ioctl
            },
            get_region_info_caps: if T::HAS_REGION_INFO {
                Some(Self::region_info_callback)
            } else {
                T::Iommu::BASE_OPS.get_region_info_caps
            },
            mmap: if T::HAS_MMAP {
                Some(Self::mmap_callback)
            } else {
                T::Iommu::BASE_OPS.mmap
            },
            request: if T::HAS_REQUEST {
                Some(Self::request_callback)
            } else {
                T::Iommu::BASE_OPS.request
            },
            // Every emulated device waits for its pins in `dma_unmap`, and `vfio_pin_pages`
            // needs one.
            dma_unmap: if T::Iommu::EMULATED {
                Some(Self::dma_unmap_callback)
            } else {
                None
            },
            // The kind's core callbacks for the rest: `init`, the device features and `match`
            // for a vfio-pci variant driver; none for the other kinds.
            ..T::Iommu::BASE_OPS
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
        if let Some(release) = T::Iommu::RELEASE {
            // SAFETY: The C core's part of the device was initialised by its `init`, and is
            // released once, here.
            unsafe { release(vdev) };
        }
        // SAFETY: `parent`, `pins`, `callers` and `bus_registration` were initialised in
        // `Device::new`, `data` if `data_ready` is set, and nothing uses them any more.
        unsafe {
            // Only a device whose close never came, which the VFIO core does not do, still has
            // its open data.
            if (*this).opened.load(Ordering::Relaxed) {
                ptr::drop_in_place((*(*this).open_data.get()).as_mut_ptr());
            }
            if (*this).data_ready {
                ptr::drop_in_place(ptr::addr_of_mut!((*this).data));
            }
            ptr::drop_in_place(ptr::addr_of_mut!((*this).bus_registration));
            ptr::drop_in_place(ptr::addr_of_mut!((*this).callers));
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
        let device_id = unsafe { *out_device_id };
        match dev.callers.run(|| T::bind_iommufd(&dev, device_id)) {
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
        dev.callers.run(|| {
            // The unbind detaches the device's PASIDs, then the device, if they are attached.
            if T::HAS_PASID_DETACH_IOAS {
                dev.for_each_attached_pasid(|pasid| T::pasid_detach_ioas(&dev, pasid));
            }
            if T::HAS_DETACH_IOAS && dev.iommufd_attached() {
                T::detach_ioas(&dev);
            }
            T::unbind_iommufd(&dev);
        });
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
        // SAFETY: The device is of this kind and bound, the lock is held, and `pt_id` valid for
        // reads and writes.
        let ret = unsafe { T::Iommu::ATTACH(vdev, pt_id) };
        let attached = match ret {
            // SAFETY: The attach succeeded, so `pt_id` holds the page table it attached to.
            0 => Ok(unsafe { *pt_id }),
            _ => Err(Error::from_errno(ret)),
        };
        dev.callers.run(|| T::attach_ioas(&dev, attached));
        ret
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live, bound device of `T`, with `dev_set->lock` held.
    unsafe extern "C" fn detach_ioas_callback(vdev: *mut bindings::vfio_device) {
        // SAFETY: The VFIO core passes a live device of `T` and holds its `dev_set->lock`.
        let dev = unsafe { Locked::new(Device::<T>::from_raw(vdev)) };
        if dev.iommufd_attached() {
            dev.callers.run(|| T::detach_ioas(&dev));
        }
        // SAFETY: The device is of this kind and bound, and the lock is held.
        unsafe { T::Iommu::DETACH(vdev) };
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T`.
    unsafe extern "C" fn open_device_callback(vdev: *mut bindings::vfio_device) -> c_int {
        // SAFETY: The VFIO core passes a live device of `T`.
        let dev = unsafe { Device::<T>::from_raw(vdev) };
        // The VFIO core keeps the module of the parent's driver loaded while the device is
        // open; this keeps the module of `T` loaded too, which may differ, until the close.
        let module = this_module::<T::OwnerModule>().as_ptr();
        // SAFETY: `module` is null or the module of this code, which is running.
        if !unsafe { bindings::try_module_get(module) } {
            return ENODEV.to_errno();
        }
        let ret = Self::open_pinned(dev, vdev);
        if ret != 0 {
            // SAFETY: The reference was taken above, and the open fails.
            unsafe { bindings::module_put(module) };
        }
        ret
    }

    /// Opens the device, its module kept loaded by the caller.
    fn open_pinned(dev: &Device<T>, vdev: *mut bindings::vfio_device) -> c_int {
        if let Some((enable, _, _)) = T::Iommu::OPEN {
            // SAFETY: The VFIO core opens the device: its part comes first.
            let ret = unsafe { enable(vdev) };
            if ret != 0 {
                return ret;
            }
        }
        // SAFETY: The VFIO core opens the device, under `dev_set->lock`.
        match dev.callers.run(|| unsafe { Self::open_with_data(dev) }) {
            Ok(()) => {
                if let Some((_, finish, _)) = T::Iommu::OPEN {
                    // SAFETY: The core's part succeeded above, and the driver's.
                    unsafe { finish(vdev) };
                }
                0
            }
            Err(e) => {
                if let Some((_, _, disable)) = T::Iommu::OPEN {
                    // SAFETY: The core's part succeeded above; the open fails.
                    unsafe { disable(vdev) };
                }
                e.to_errno()
            }
        }
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T`.
    unsafe extern "C" fn close_device_callback(vdev: *mut bindings::vfio_device) {
        // SAFETY: The VFIO core passes a live device of `T`.
        let dev = unsafe { Device::<T>::from_raw(vdev) };
        dev.callers.run(|| {
            T::close_device(dev);
            // SAFETY: The device is open, and the VFIO core closes it, under `dev_set->lock`;
            // no call that has an `Open` of it is left.
            unsafe { Self::drop_open_data(dev) };
        });
        if let Some(close) = T::Iommu::BASE_OPS.close_device {
            // SAFETY: The VFIO core closes the device: the core's part comes last.
            unsafe { close(vdev) };
        }
        // SAFETY: The open took the reference. The module's code returns from here after it
        // is dropped, but the module cannot be freed before: its unloading unregisters the
        // device, which waits for the file that closes it, after this call.
        unsafe { bindings::module_put(this_module::<T::OwnerModule>().as_ptr()) };
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
        dev.callers.run(|| T::dma_unmap(dev, iova, length));
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
        unsafe {
            Self::advance(ppos, count, |offset| {
                dev.callers.run(|| T::read(&dev, writer, offset))
            })
        }
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
        unsafe {
            Self::advance(ppos, count, |offset| {
                dev.callers.run(|| T::write(&dev, reader, offset))
            })
        }
    }

    /// Makes the open data of `dev`, then runs the driver's `open_device`; drops the data again
    /// if that fails.
    ///
    /// # Safety
    ///
    /// The VFIO core must be opening `dev`, under `dev_set->lock`.
    unsafe fn open_with_data(dev: &Device<T>) -> Result {
        let slot = dev.open_data.get().cast::<T::OpenData>();
        // SAFETY: The device is closed, so the slot is not initialised and nothing reads it;
        // it never moves. On failure the initialiser leaves it uninitialised.
        unsafe { T::OpenData::open(dev).__init(slot)? };
        dev.opened.store(true, Ordering::Relaxed);
        T::open_device(dev).inspect_err(|_| {
            // SAFETY: The data was made above and the open fails: no `Open` of it exists.
            unsafe { Self::drop_open_data(dev) };
        })
    }

    /// Drops the open data of `dev`.
    ///
    /// # Safety
    ///
    /// The device's open data must be initialised, its `dev_set->lock` held, and no call that
    /// has an `Open` of it left.
    unsafe fn drop_open_data(dev: &Device<T>) {
        dev.opened.store(false, Ordering::Relaxed);
        // SAFETY: The caller guarantees that the data is initialised and no longer used.
        unsafe { ptr::drop_in_place(dev.open_data.get().cast::<T::OpenData>()) };
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live, bound device of `T`, with `dev_set->lock` held.
    unsafe extern "C" fn pasid_attach_ioas_callback(
        vdev: *mut bindings::vfio_device,
        pasid: u32,
        pt_id: *mut u32,
    ) -> c_int {
        // SAFETY: The VFIO core passes a live device of `T` and holds its `dev_set->lock`.
        let dev = unsafe { Locked::new(Device::<T>::from_raw(vdev)) };
        let Some(attach) = T::Iommu::PASID_ATTACH else {
            return EOPNOTSUPP.to_errno();
        };
        // SAFETY: The device is of this kind and bound, the lock is held, and `pt_id` valid for
        // reads and writes.
        let ret = unsafe { attach(vdev, pasid, pt_id) };
        let attached = match ret {
            // SAFETY: The attach succeeded, so `pt_id` holds the page table it attached to.
            0 => Ok(unsafe { *pt_id }),
            _ => Err(Error::from_errno(ret)),
        };
        dev.callers
            .run(|| T::pasid_attach_ioas(&dev, pasid, attached));
        ret
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live, bound device of `T`, with `dev_set->lock` held.
    unsafe extern "C" fn pasid_detach_ioas_callback(vdev: *mut bindings::vfio_device, pasid: u32) {
        // SAFETY: The VFIO core passes a live device of `T` and holds its `dev_set->lock`.
        let dev = unsafe { Locked::new(Device::<T>::from_raw(vdev)) };
        let Some(detach) = T::Iommu::PASID_DETACH else {
            return;
        };
        if dev.pasid_attached(pasid) {
            dev.callers.run(|| T::pasid_detach_ioas(&dev, pasid));
        }
        // SAFETY: The device is of this kind and bound, and the lock is held.
        unsafe { detach(vdev, pasid) };
    }

    /// `VFIO_DEVICE_GET_INFO`, at user address `arg`.
    fn get_info(dev: &Open<'_, T>, arg: UserPtr) -> Result {
        type Info = bindings::vfio_device_info;
        let minsz = mem::offset_of!(Info, num_irqs) + mem::size_of::<u32>();
        let mut info: Info = read_arg(arg, minsz)?;
        let reported = dev.callers.run(|| T::device_info(dev))?;
        let reset = bindings::VFIO_DEVICE_FLAGS_RESET;
        // A kind whose core answers the other ioctls answers a reset the driver leaves to it.
        let flags = if T::HAS_RESET {
            reported.flags | reset
        } else if T::Iommu::BASE_OPS.ioctl.is_none() {
            reported.flags & !reset
        } else {
            reported.flags
        };
        info.flags = flags & !bindings::VFIO_DEVICE_FLAGS_CAPS;
        info.num_regions = reported.num_regions;
        info.num_irqs = reported.num_irqs;
        write_arg(arg, &info, minsz)
    }

    /// `VFIO_DEVICE_GET_IRQ_INFO`, at user address `arg`.
    fn get_irq_info(dev: &Open<'_, T>, arg: UserPtr) -> Result {
        type Info = bindings::vfio_irq_info;
        let minsz = mem::offset_of!(Info, count) + mem::size_of::<u32>();
        let mut info: Info = read_arg(arg, minsz)?;
        let num_irqs = dev.callers.run(|| T::device_info(dev))?.num_irqs;
        if info.index >= num_irqs {
            return Err(EINVAL);
        }
        let reported = dev.callers.run(|| T::irq_info(dev, info.index))?;
        info.flags = reported.flags;
        info.count = reported.count;
        write_arg(arg, &info, minsz)
    }

    /// `VFIO_DEVICE_SET_IRQS`, at user address `arg`.
    fn set_irqs(dev: &Open<'_, T>, arg: UserPtr) -> Result {
        type Set = bindings::vfio_irq_set;
        let minsz = mem::offset_of!(Set, count) + mem::size_of::<u32>();
        let mut hdr: Set = read_arg(arg, minsz)?;
        let num_irqs = dev.callers.run(|| T::device_info(dev))?.num_irqs;
        // An index out of range fails the check below.
        let count = if hdr.index < num_irqs {
            dev.callers.run(|| T::irq_info(dev, hdr.index))?.count
        } else {
            0
        };
        let mut data_size = 0usize;
        // SAFETY: `hdr` is valid for reads and writes, `data_size` for writes.
        to_result(unsafe {
            bindings::vfio_set_irqs_validate_and_prepare(
                &mut hdr,
                c_int::try_from(count)?,
                c_int::try_from(num_irqs)?,
                &mut data_size,
            )
        })?;
        let action = match hdr.flags & bindings::VFIO_IRQ_SET_ACTION_TYPE_MASK {
            bindings::VFIO_IRQ_SET_ACTION_MASK => IrqAction::Mask,
            bindings::VFIO_IRQ_SET_ACTION_UNMASK => IrqAction::Unmask,
            bindings::VFIO_IRQ_SET_ACTION_TRIGGER => IrqAction::Trigger,
            _ => return Err(EINVAL),
        };
        let mut bytes = KVec::from_elem(0u8, data_size, GFP_KERNEL)?;
        UserSlice::new(arg.wrapping_byte_add(minsz), data_size)
            .reader()
            .read_slice(&mut bytes)?;
        let data = match hdr.flags & bindings::VFIO_IRQ_SET_DATA_TYPE_MASK {
            bindings::VFIO_IRQ_SET_DATA_BOOL => {
                let mut flags = KVec::with_capacity(bytes.len(), GFP_KERNEL)?;
                for &b in bytes.iter() {
                    flags.push(b != 0, GFP_KERNEL)?;
                }
                IrqData::Bool(flags)
            }
            bindings::VFIO_IRQ_SET_DATA_EVENTFD => {
                let mut fds = KVec::with_capacity(bytes.len() / 4, GFP_KERNEL)?;
                for fd in bytes.chunks_exact(4) {
                    let fd = i32::from_ne_bytes([fd[0], fd[1], fd[2], fd[3]]);
                    let eventfd = if fd < 0 {
                        None
                    } else {
                        Some(EventFd::from_fd(fd)?)
                    };
                    fds.push(eventfd, GFP_KERNEL)?;
                }
                IrqData::EventFd(fds)
            }
            _ => IrqData::None,
        };
        let set = IrqSet {
            index: hdr.index,
            start: hdr.start,
            count: hdr.count,
            action,
            data,
        };
        dev.callers.run(|| T::set_irqs(dev, set))
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T` that user space has open and bound.
    unsafe extern "C" fn ioctl_callback(
        vdev: *mut bindings::vfio_device,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: The VFIO core passes a live device of `T` that is open.
        let dev = unsafe { Open::new(Device::<T>::from_raw(vdev)) };
        let uarg = UserPtr::from_addr(arg);
        let result = match cmd {
            GET_INFO if T::HAS_DEVICE_INFO => Self::get_info(&dev, uarg),
            GET_IRQ_INFO if T::HAS_IRQ_INFO => Self::get_irq_info(&dev, uarg),
            SET_IRQS if T::HAS_SET_IRQS => Self::set_irqs(&dev, uarg),
            RESET if T::HAS_RESET => dev.callers.run(|| T::reset(&dev)),
            _ => {
                return match T::Iommu::BASE_OPS.ioctl {
                    // SAFETY: The kind's core handles the device's other ioctls.
                    Some(ioctl) => unsafe { ioctl(vdev, cmd, arg) },
                    None => ENOTTY.to_errno() as c_long,
                };
            }
        };
        match result {
            Ok(()) => 0,
            Err(e) => e.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T` that user space has open and bound,
    /// with `info` and `caps` valid for reads and writes.
    unsafe extern "C" fn region_info_callback(
        vdev: *mut bindings::vfio_device,
        info: *mut bindings::vfio_region_info,
        caps: *mut bindings::vfio_info_cap,
    ) -> c_int {
        // SAFETY: The VFIO core passes a live device of `T` that is open.
        let dev = unsafe { Open::new(Device::<T>::from_raw(vdev)) };
        // SAFETY: `info` is valid for reads.
        let index = unsafe { (*info).index };
        let mut chain = RegionCaps {
            caps,
            _call: PhantomData,
        };
        match dev.callers.run(|| T::region_info(&dev, index, &mut chain)) {
            Ok(region) => {
                // SAFETY: `info` is valid for writes.
                unsafe {
                    (*info).offset = u64::from(index) << REGION_SHIFT;
                    (*info).size = region.size;
                    (*info).flags = region.flags;
                }
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T` that user space has open and bound,
    /// from the `mmap` of its file, with `vma` being set up.
    unsafe extern "C" fn mmap_callback(
        vdev: *mut bindings::vfio_device,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: The VFIO core passes a live device of `T` that is open.
        let dev = unsafe { Open::new(Device::<T>::from_raw(vdev)) };
        // SAFETY: `vma` is being set up for the duration of the call.
        let vma = unsafe { VmaNew::from_raw(vma) };
        // SAFETY: `vma` is live.
        let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff } as u64;
        if pgoff >> (u64::BITS - bindings::PAGE_SHIFT) != 0 {
            return EINVAL.to_errno();
        }
        let (index, offset) = region_of(pgoff << bindings::PAGE_SHIFT);
        match dev.callers.run(|| T::mmap(&dev, vma, index, offset)) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the VFIO core for a live device of `T` whose unregistration waits for user
    /// space to close it.
    unsafe extern "C" fn request_callback(vdev: *mut bindings::vfio_device, count: c_uint) {
        // SAFETY: The VFIO core passes a live device of `T`.
        let dev = unsafe { Device::<T>::from_raw(vdev) };
        dev.callers.run(|| T::request(dev, count));
        if let Some(request) = T::Iommu::BASE_OPS.request {
            // SAFETY: As for the driver's hook: the core's part comes last.
            unsafe { request(vdev, count) };
        }
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
    use crate::{faux, ffi::c_void, pr_err, prelude::fmt, str::CString};
    use core::sync::atomic::{AtomicU32, Ordering};

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

        fn device(&self) -> &device::Device<Bound> {
            // SAFETY: By the type invariants, the device lives, bound to its driver, as long as
            // `self`.
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

    enum Parent {
        Mock(MockParent),
        Faux(faux::Registration),
    }

    impl Parent {
        fn device(&self) -> &device::Device<Bound> {
            match self {
                Parent::Mock(p) => p.device(),
                Parent::Faux(p) => p.as_ref().as_ref(),
            }
        }
    }

    /// A drop handed to a work item, that keeps a module loaded until it is done.
    ///
    /// It is not generic, so its work function is the kernel's: it drops the module reference
    /// after the drop, which is the module's code, has returned.
    #[pin_data]
    struct DeferredDrop {
        #[pin]
        work: Work<DeferredDrop>,
        payload: *mut c_void,
        drop_fn: Option<unsafe fn(*mut c_void)>,
        module: *mut bindings::module,
    }

    // SAFETY: The payload is only dropped by the work item, on the thread that runs it; the drop
    // functions given to `DeferredDrop::defer` accept that.
    unsafe impl Send for DeferredDrop {}

    impl_has_work! {
        impl HasWork<Self> for DeferredDrop { self.work }
    }

    impl WorkItem for DeferredDrop {
        type Pointer = Pin<KBox<Self>>;

        fn run(this: Pin<KBox<Self>>) {
            let module = this.module;
            if let Some(drop_fn) = this.drop_fn {
                // SAFETY: `defer` set the payload and its drop function, which runs once, here.
                unsafe { drop_fn(this.payload) };
            }
            drop(this);
            // SAFETY: `defer` took the reference.
            unsafe { bindings::module_put(module) };
        }
    }

    impl DeferredDrop {
        /// Allocates a work item, so that deferring a drop later cannot fail for memory.
        fn new() -> Result<Pin<KBox<Self>>> {
            KBox::pin_init(
                pin_init!(Self {
                    work <- new_work!("vfio::testing::TestDevice::drop"),
                    payload: ptr::null_mut(),
                    drop_fn: None,
                    module: ptr::null_mut(),
                }),
                GFP_KERNEL,
            )
        }

        /// Runs `drop_fn(payload)` on `system_long`, keeping `module`, the module of `drop_fn`,
        /// loaded until it returns. Fails if the module is being unloaded.
        ///
        /// # Safety
        ///
        /// `drop_fn(payload)` must be sound to call once, from any thread.
        unsafe fn defer(
            mut this: Pin<KBox<Self>>,
            payload: *mut c_void,
            drop_fn: unsafe fn(*mut c_void),
            module: &'static ThisModule,
        ) -> Result {
            let module = module.as_ptr();
            // SAFETY: `module` is the module of the caller's code, which is running.
            if !unsafe { bindings::try_module_get(module) } {
                return Err(ENODEV);
            }
            // SAFETY: Only fields that are not pinned are written.
            let fields = unsafe { this.as_mut().get_unchecked_mut() };
            fields.payload = payload;
            fields.drop_fn = Some(drop_fn);
            fields.module = module;
            workqueue::system_long().enqueue(this);
            Ok(())
        }
    }

    /// The registration of a [`TestDevice`] and its parent.
    ///
    /// # Invariants
    ///
    /// `parent` is bound to its driver while `reg` exists, and `reg` is its registration.
    struct Parts<T: DeviceOps> {
        // Dropped first: fields drop in the order they are declared.
        reg: Registration<'static, T>,
        _parent: KBox<Parent>,
    }

    /// Drops the [`Parts`] of a [`TestDevice`] that `TestDevice::drop` deferred.
    ///
    /// # Safety
    ///
    /// `parts` must come from `KBox::into_raw` of a `KBox<Parts<T>>`, and is not used afterwards.
    unsafe fn drop_parts<T: DeviceOps>(parts: *mut c_void) {
        // SAFETY: See above.
        drop(unsafe { KBox::from_raw(parts.cast::<Parts<T>>()) });
    }

    /// A VFIO device of driver `T` registered on a parent device made for it: a mock device
    /// bound to a driver of its own that belongs to `T`'s module, or a faux device. Dropping it
    /// unregisters the VFIO device (waiting until user space has closed it), then destroys the
    /// parent (and its driver).
    ///
    /// Dropped inside a callback of its device, where unregistering would wait for the very
    /// call that drops it, it hands both steps to a work item, which keeps `T`'s module loaded
    /// until it is done.
    ///
    /// # Examples
    ///
    /// The iommufd hooks run around the VFIO core's helpers, which the abstraction always calls,
    /// and are paired on every path: an attach that fails reaches `attach_ioas` with its error,
    /// and an unbind of an attached device reaches `detach_ioas`. Data whose initialisation
    /// fails is never dropped; other data is dropped once. The test calls the ops as the VFIO
    /// core does, under `dev_set->lock`.
    ///
    /// ```
    /// use core::{
    ///     ptr,
    ///     sync::atomic::{AtomicU32, Ordering},
    /// };
    /// use kernel::{bindings, prelude::*, vfio, vfio::testing::TestDevice};
    ///
    /// static BINDS: AtomicU32 = AtomicU32::new(0);
    /// static ATTACHED: AtomicU32 = AtomicU32::new(0);
    /// static FAILED: AtomicU32 = AtomicU32::new(0);
    /// static DETACHES: AtomicU32 = AtomicU32::new(0);
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
    /// struct Paired;
    ///
    /// #[vtable]
    /// impl vfio::DeviceOps for Paired {
    ///     type Data = Counted;
    ///     type Iommu = vfio::Emulated;
    ///     type OpenData = ();
    ///     const NAME: &'static CStr = c"paired-vfio";
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
    ///     fn attach_ioas(dev: &vfio::Locked<'_, Self>, attached: Result<u32>) {
    ///         let count = match attached {
    ///             Ok(_) => &ATTACHED,
    ///             Err(_) => &FAILED,
    ///         };
    ///         count.fetch_add(1, Ordering::Relaxed);
    ///         assert!(attached.is_err() || dev.iommufd_attached());
    ///     }
    ///
    ///     fn detach_ioas(dev: &vfio::Locked<'_, Self>) {
    ///         assert!(dev.iommufd_attached());
    ///         DETACHES.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// // SAFETY: The initialiser fails without touching the slot.
    /// let failing = unsafe { pin_init::pin_init_from_closure::<Counted, Error>(|_| Err(ENOMEM)) };
    /// assert_eq!(TestDevice::<Paired>::new_faux(failing).err(), Some(ENOMEM));
    /// assert_eq!(DROPS.load(Ordering::Relaxed), 0);
    ///
    /// let dev = TestDevice::<Paired>::new_faux(Counted)?;
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
    ///     // An IOAS that does not exist: the hook sees the error.
    ///     let mut pt_id = ioas + 1000;
    ///     let ret = ops.attach_ioas.unwrap()(vdev, &mut pt_id);
    ///     assert!(ret < 0);
    ///     assert_eq!((FAILED.load(Ordering::Relaxed), ATTACHED.load(Ordering::Relaxed)), (1, 0));
    ///     // An attach, then a replace: no detach in between.
    ///     let mut pt_id = ioas;
    ///     assert_eq!(ops.attach_ioas.unwrap()(vdev, &mut pt_id), 0);
    ///     assert_eq!(ops.attach_ioas.unwrap()(vdev, &mut pt_id), 0);
    ///     assert_eq!(ATTACHED.load(Ordering::Relaxed), 2);
    ///     assert_eq!(DETACHES.load(Ordering::Relaxed), 0);
    ///     // A detach, a second one that finds the device detached, an attach again.
    ///     ops.detach_ioas.unwrap()(vdev);
    ///     ops.detach_ioas.unwrap()(vdev);
    ///     assert_eq!(DETACHES.load(Ordering::Relaxed), 1);
    ///     assert_eq!(ops.attach_ioas.unwrap()(vdev, &mut pt_id), 0);
    ///     // The unbind of the attached device detaches it, and the hook sees that.
    ///     ops.unbind_iommufd.unwrap()(vdev);
    ///     assert!((*vdev).iommufd_access.is_null());
    ///     assert_eq!(DETACHES.load(Ordering::Relaxed), 2);
    ///     bindings::mutex_unlock(lock);
    ///     assert_eq!(bindings::iommufd_test_destroy(ictx, ioas), 0);
    ///     bindings::iommufd_test_ctx_destroy(ictx);
    /// }
    /// drop(dev);
    /// assert_eq!(DROPS.load(Ordering::Relaxed), 1);
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// The PASID hooks are paired as the device's: a failed attach reaches `pasid_attach_ioas`
    /// with its error, a detach of a PASID that is not attached reaches no hook, and an unbind
    /// reaches `pasid_detach_ioas` for each attached PASID, before `detach_ioas`. A `request`
    /// hook runs each time the VFIO core asks user space to close the device.
    ///
    /// ```
    /// use core::{
    ///     ptr,
    ///     sync::atomic::{AtomicU32, Ordering},
    /// };
    /// use kernel::{bindings, new_mutex, prelude::*, sync::Mutex, vfio, vfio::testing::TestDevice};
    ///
    /// static ATTACHED: AtomicU32 = AtomicU32::new(0);
    /// static FAILED: AtomicU32 = AtomicU32::new(0);
    /// static REQUESTS: AtomicU32 = AtomicU32::new(0);
    ///
    /// struct Pasids;
    ///
    /// #[vtable]
    /// impl vfio::DeviceOps for Pasids {
    ///     // The order of the detaches: PASIDs, then 0 for the device.
    ///     type Data = Mutex<KVec<u32>>;
    ///     type Iommu = vfio::Physical;
    ///     type OpenData = ();
    ///     const NAME: &'static CStr = c"pasids-vfio";
    ///
    ///     fn attach_ioas(_dev: &vfio::Locked<'_, Self>, _attached: Result<u32>) {}
    ///
    ///     fn detach_ioas(dev: &vfio::Locked<'_, Self>) {
    ///         dev.data().lock().push(0, GFP_KERNEL).unwrap();
    ///     }
    ///
    ///     fn pasid_attach_ioas(dev: &vfio::Locked<'_, Self>, pasid: u32, attached: Result<u32>) {
    ///         assert_eq!(attached.is_ok(), dev.pasid_attached(pasid));
    ///         let count = if attached.is_ok() { &ATTACHED } else { &FAILED };
    ///         count.fetch_add(1, Ordering::Relaxed);
    ///     }
    ///
    ///     fn pasid_detach_ioas(dev: &vfio::Locked<'_, Self>, pasid: u32) {
    ///         assert!(dev.pasid_attached(pasid));
    ///         dev.data().lock().push(pasid, GFP_KERNEL).unwrap();
    ///     }
    ///
    ///     fn request(_dev: &vfio::Device<Self>, count: u32) {
    ///         assert_eq!(REQUESTS.fetch_add(1, Ordering::Relaxed), count);
    ///     }
    /// }
    ///
    /// let dev = TestDevice::<Pasids>::new_mock(None, new_mutex!(KVec::new()))?;
    /// let vdev = ptr::from_ref(dev.device()).cast_mut().cast::<bindings::vfio_device>();
    /// let detaches = |order: &[u32]| assert_eq!(dev.device().data().lock().as_slice(), order);
    /// // SAFETY: `vdev` is live; the context is checked; the ops are called as the VFIO core
    /// // calls them, under `dev_set->lock`, in an order it allows.
    /// unsafe {
    ///     let ictx = bindings::iommufd_test_ctx_create();
    ///     assert!(!bindings::IS_ERR(ictx.cast()));
    ///     let mut ioas = 0;
    ///     assert_eq!(bindings::iommufd_test_ioas_alloc(ictx, &mut ioas), 0);
    ///     let ops = &*(*vdev).ops;
    ///     let lock = ptr::addr_of_mut!((*(*vdev).dev_set).lock);
    ///     bindings::mutex_lock(lock);
    ///     let mut id = 0;
    ///     assert_eq!(ops.bind_iommufd.unwrap()(vdev, ictx, &mut id), 0);
    ///     let flags = bindings::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_PASID;
    ///     let (mut rid_hwpt, mut hwpt) = (0, 0);
    ///     assert_eq!(bindings::iommufd_test_hwpt_alloc(ictx, id, ioas, flags, &mut rid_hwpt), 0);
    ///     assert_eq!(bindings::iommufd_test_hwpt_alloc(ictx, id, ioas, flags, &mut hwpt), 0);
    ///     assert_eq!(ops.attach_ioas.unwrap()(vdev, &mut rid_hwpt), 0);
    ///     // An attach and a replace of PASID 1; PASID 2 straight to the IOAS fails.
    ///     let mut pt_id = hwpt;
    ///     assert_eq!(ops.pasid_attach_ioas.unwrap()(vdev, 1, &mut pt_id), 0);
    ///     assert_eq!(ops.pasid_attach_ioas.unwrap()(vdev, 1, &mut pt_id), 0);
    ///     let mut pt_id = ioas;
    ///     assert!(ops.pasid_attach_ioas.unwrap()(vdev, 2, &mut pt_id) < 0);
    ///     assert_eq!((ATTACHED.load(Ordering::Relaxed), FAILED.load(Ordering::Relaxed)), (2, 1));
    ///     // A detach of PASID 2, which is not attached, then of PASID 1, then an attach again.
    ///     ops.pasid_detach_ioas.unwrap()(vdev, 2);
    ///     ops.pasid_detach_ioas.unwrap()(vdev, 1);
    ///     detaches(&[1]);
    ///     let mut pt_id = hwpt;
    ///     assert_eq!(ops.pasid_attach_ioas.unwrap()(vdev, 3, &mut pt_id), 0);
    ///     // The unbind detaches PASID 3, then the device.
    ///     ops.unbind_iommufd.unwrap()(vdev);
    ///     detaches(&[1, 3, 0]);
    ///     bindings::mutex_unlock(lock);
    ///     ops.request.unwrap()(vdev, 0);
    ///     ops.request.unwrap()(vdev, 1);
    ///     assert_eq!(REQUESTS.load(Ordering::Relaxed), 2);
    ///     assert_eq!(bindings::iommufd_test_destroy(ictx, hwpt), 0);
    ///     assert_eq!(bindings::iommufd_test_destroy(ictx, rid_hwpt), 0);
    ///     assert_eq!(bindings::iommufd_test_destroy(ictx, ioas), 0);
    ///     bindings::iommufd_test_ctx_destroy(ictx);
    /// }
    /// drop(dev);
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// A device dropped from its own `close_device`, where unregistering it would wait for the
    /// very call that drops it, is unregistered by a work item once the call has returned:
    ///
    /// ```
    /// use core::{
    ///     ptr,
    ///     sync::atomic::{AtomicU32, Ordering},
    /// };
    /// use kernel::{
    ///     bindings, new_mutex, prelude::*, sync::aref::ARef, sync::Mutex,
    ///     time::{delay::fsleep, Delta}, vfio, vfio::testing::TestDevice,
    /// };
    ///
    /// static DROPS: AtomicU32 = AtomicU32::new(0);
    ///
    /// #[pin_data(PinnedDrop)]
    /// struct Slot {
    ///     #[pin]
    ///     dev: Mutex<Option<TestDevice<SelfDropping>>>,
    /// }
    ///
    /// #[pinned_drop]
    /// impl PinnedDrop for Slot {
    ///     fn drop(self: Pin<&mut Self>) {
    ///         DROPS.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// struct SelfDropping;
    ///
    /// #[vtable]
    /// impl vfio::DeviceOps for SelfDropping {
    ///     type Data = Slot;
    ///     type Iommu = vfio::Emulated;
    ///     type OpenData = ();
    ///     const NAME: &'static CStr = c"self-dropping-vfio";
    ///
    ///     fn close_device(dev: &vfio::Device<Self>) {
    ///         drop(dev.data().dev.lock().take());
    ///     }
    /// }
    ///
    /// let slot = pin_init!(Slot { dev <- new_mutex!(None) });
    /// let dev = TestDevice::<SelfDropping>::new_faux(slot)?;
    /// let vdev: ARef<vfio::Device<SelfDropping>> = dev.device().into();
    /// *vdev.data().dev.lock() = Some(dev);
    /// let raw = ptr::from_ref(&*vdev).cast_mut().cast::<bindings::vfio_device>();
    /// // SAFETY: `raw` is live while `vdev` is; the op is called under `dev_set->lock`.
    /// let registered = move || unsafe { (*raw).device.kobj.state_in_sysfs() != 0 };
    /// assert!(registered());
    /// // SAFETY: As above; the file of the device holds a reference to its registration during
    /// // the call, which it drops after it.
    /// unsafe {
    ///     bindings::refcount_inc(ptr::addr_of_mut!((*raw).refcount));
    ///     let lock = ptr::addr_of_mut!((*(*raw).dev_set).lock);
    ///     bindings::mutex_lock(lock);
    ///     (*(*raw).ops).close_device.unwrap()(raw);
    ///     assert!(vdev.data().dev.lock().is_none());
    ///     bindings::mutex_unlock(lock);
    ///     if bindings::refcount_dec_and_test(ptr::addr_of_mut!((*raw).refcount)) {
    ///         bindings::complete(ptr::addr_of_mut!((*raw).comp));
    ///     }
    /// }
    /// let mut waited = 0;
    /// while registered() && waited < 1000 {
    ///     fsleep(Delta::from_millis(10));
    ///     waited += 1;
    /// }
    /// assert!(!registered());
    /// // The work item drops its references to the device, then the parent.
    /// drop(vdev);
    /// while DROPS.load(Ordering::Relaxed) == 0 && waited < 1000 {
    ///     fsleep(Delta::from_millis(10));
    ///     waited += 1;
    /// }
    /// assert_eq!(DROPS.load(Ordering::Relaxed), 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub struct TestDevice<T: DeviceOps> {
        parts: Option<KBox<Parts<T>>>,
        deferred: Option<Pin<KBox<DeferredDrop>>>,
    }

    impl<T: DeviceOps> TestDevice<T> {
        fn register<E>(parent: Parent, data: impl PinInit<T::Data, E>) -> Result<Self>
        where
            Error: From<E>,
            T::Iommu: Standalone,
        {
            let deferred = DeferredDrop::new()?;
            let parent = KBox::new(parent, GFP_KERNEL)?;
            // SAFETY: The parent is boxed, so it does not move, and is bound until it is
            // dropped, which `Parts` does after the registration.
            let bound = unsafe { &*ptr::from_ref(parent.device()) };
            let reg = Registration::new(bound, data)?;
            // INVARIANT: See above.
            let parts = KBox::new(
                Parts {
                    reg,
                    _parent: parent,
                },
                GFP_KERNEL,
            )?;
            Ok(Self {
                parts: Some(parts),
                deferred: Some(deferred),
            })
        }

        /// Returns the VFIO device.
        pub fn device(&self) -> &Device<T> {
            match &self.parts {
                Some(parts) => parts.reg.device(),
                // Only `drop` takes the parts.
                None => unreachable!(),
            }
        }
    }

    impl<T: DeviceOps> Drop for TestDevice<T> {
        fn drop(&mut self) {
            let (Some(parts), Some(deferred)) = (self.parts.take(), self.deferred.take()) else {
                return;
            };
            if !parts.reg.device().callers.current_inside() {
                drop(parts);
                return;
            }
            let parts = KBox::into_raw(parts);
            // SAFETY: `parts` comes from `KBox::into_raw` just above and is not used again here;
            // a `Parts<T>` can be dropped from any thread.
            let deferred = unsafe {
                DeferredDrop::defer(
                    deferred,
                    parts.cast(),
                    drop_parts::<T>,
                    this_module::<T::OwnerModule>(),
                )
            };
            if deferred.is_err() {
                // The module is being unloaded: its code cannot run later, and dropping the
                // parts here would wait for this very callback.
                pr_err!("vfio: test device dropped in its callback while its module unloads\n");
            }
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
        /// Makes a faux device, in no iommu group, and registers a device of `T` on it with
        /// `data`.
        pub fn new_faux<E>(data: impl PinInit<T::Data, E>) -> Result<Self>
        where
            Error: From<E>,
        {
            let name = unique_name(T::NAME)?;
            Self::register(Parent::Faux(faux::Registration::new(&name, None)?), data)
        }
    }

    // SAFETY: The devices can be unregistered, and the parents destroyed, from any thread.
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
