// SPDX-License-Identifier: GPL-2.0-only
/// A vfio_device_ops that sets bind_iommufd must also set unbind_iommufd,
/// attach_ioas and detach_ioas: with CONFIG_IOMMUFD, __vfio_register_dev()
/// refuses a device whose ops lack any of the four, so such a driver fails
/// to probe at run time. Report the ops tables that miss one.
///
/// The PASID callbacks go in pairs: an ops table that sets one of
/// pasid_attach_ioas and pasid_detach_ioas but not the other lets user space
/// attach PASIDs it cannot detach, or the reverse. Report it. As advice,
/// report a vfio-pci core driver with the physical helpers for the RID that
/// sets neither: VFIO_DEVICE_ATTACH_IOMMUFD_PT then refuses the PASIDs of
/// its device (-EOPNOTSUPP), where vfio-pci's own ops attach them.
//
// Confidence: High
// Comments: Only designated initializers of a struct vfio_device_ops are
//           looked at; ops filled in at run time are not seen.
// Options: --no-includes --include-headers

virtual report

@initialize:python@
@@

def missing(p, ops, op):
	msg = "%s sets bind_iommufd but not %s" % (ops, op)
	coccilib.report.print_report(p[0], msg)

def unpaired(p, ops, has, lacks):
	msg = "%s sets %s but not %s" % (ops, has, lacks)
	coccilib.report.print_report(p[0], msg)

def no_pasid(p, ops):
	msg = ("advisory: %s has vfio-pci core's physical RID ops but no "
	       "pasid_attach_ioas and pasid_detach_ioas" % ops)
	coccilib.report.print_report(p[0], msg)

@bound@
identifier ops;
expression e;
position p;
@@

struct vfio_device_ops ops@p = {
	.bind_iommufd = e,
};

@has_unbind@
identifier bound.ops;
expression e;
@@

struct vfio_device_ops ops = {
	.unbind_iommufd = e,
};

@has_attach@
identifier bound.ops;
expression e;
@@

struct vfio_device_ops ops = {
	.attach_ioas = e,
};

@has_detach@
identifier bound.ops;
expression e;
@@

struct vfio_device_ops ops = {
	.detach_ioas = e,
};

@script:python depends on report && !has_unbind@
ops << bound.ops;
p << bound.p;
@@

missing(p, ops, "unbind_iommufd")

@script:python depends on report && !has_attach@
ops << bound.ops;
p << bound.p;
@@

missing(p, ops, "attach_ioas")

@script:python depends on report && !has_detach@
ops << bound.ops;
p << bound.p;
@@

missing(p, ops, "detach_ioas")

@pasid_attach@
identifier ops;
expression e;
position p;
@@

struct vfio_device_ops ops@p = {
	.pasid_attach_ioas = e,
};

@pasid_detach@
identifier ops;
expression e;
position p;
@@

struct vfio_device_ops ops@p = {
	.pasid_detach_ioas = e,
};

@script:python depends on report && pasid_attach && !pasid_detach@
ops << pasid_attach.ops;
p << pasid_attach.p;
@@

unpaired(p, ops, "pasid_attach_ioas", "pasid_detach_ioas")

@script:python depends on report && pasid_detach && !pasid_attach@
ops << pasid_detach.ops;
p << pasid_detach.p;
@@

unpaired(p, ops, "pasid_detach_ioas", "pasid_attach_ioas")

@pci_core@
identifier ops;
symbol vfio_iommufd_physical_attach_ioas, vfio_pci_core_request;
position p;
@@

struct vfio_device_ops ops@p = {
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.request = vfio_pci_core_request,
};

@has_pasid@
identifier pci_core.ops;
expression e;
@@

struct vfio_device_ops ops = {
	.pasid_attach_ioas = e,
};

@script:python depends on report && !has_pasid@
ops << pci_core.ops;
p << pci_core.p;
@@

no_pasid(p, ops)
