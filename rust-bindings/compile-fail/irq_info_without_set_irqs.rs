// SPDX-License-Identifier: GPL-2.0
//
// rule: a vfio::DeviceOps that overrides irq_info must override set_irqs
// expect: error[E0080]
// expect: a vfio::DeviceOps that overrides irq_info must override set_irqs
//
// Interrupts that GET_IRQ_INFO reports but SET_IRQS cannot set up: user space would see an
// eventfd interrupt that every request refuses.

use kernel::{
    prelude::*,
    vfio,
    vfio::testing::{TestDevice, TestDriver},
};

module! {
    type: IrqInfoWithoutSetIrqs,
    name: "irq_info_without_set_irqs",
    authors: ["Rust for Linux Contributors"],
    description: "Compile-fail case of the vfio abstractions",
    license: "GPL",
}

struct IrqInfoWithoutSetIrqs;

impl kernel::Module for IrqInfoWithoutSetIrqs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}

#[vtable]
impl vfio::DeviceOps for IrqInfoWithoutSetIrqs {
    type Data = ();
    type Iommu = vfio::Emulated;
    type OpenData = ();
    const NAME: &'static CStr = c"irq-info-without-set-irqs";

    fn device_info(_dev: &vfio::Open<'_, Self>) -> Result<vfio::DeviceInfo> {
        Ok(vfio::DeviceInfo {
            flags: 0,
            num_regions: 0,
            num_irqs: 1,
        })
    }

    fn irq_info(_dev: &vfio::Open<'_, Self>, _index: u32) -> Result<vfio::IrqInfo> {
        Ok(vfio::IrqInfo {
            flags: vfio::IRQ_EVENTFD,
            count: 1,
        })
    }
}

impl TestDriver for IrqInfoWithoutSetIrqs {
    fn create(_group_peer: Option<&vfio::Device<Self>>) -> Result<TestDevice<Self>> {
        TestDevice::new_faux(())
    }
}

kernel::vfio_test_factory!(
    IrqInfoWithoutSetIrqs,
    irq_info_without_set_irqs_create,
    irq_info_without_set_irqs_destroy,
    irq_info_without_set_irqs_unmaps
);
