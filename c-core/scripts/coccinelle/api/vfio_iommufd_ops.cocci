// SPDX-License-Identifier: GPL-2.0-only
/// A vfio_device_ops that sets bind_iommufd must also set unbind_iommufd,
/// attach_ioas and detach_ioas: with CONFIG_IOMMUFD, __vfio_register_dev()
/// refuses a device whose ops lack any of the four, so such a driver fails
/// to probe at run time. Report the ops tables that miss one.
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
