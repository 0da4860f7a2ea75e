"""Where a stored number was computed: the CPU is named by its model, since another model's
kernels round differently and the same command then gives other last digits."""
import platform

from cvae_lib.results import provenance
from cvae_lib.util import cpu_model


CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 106
model name\t: Intel(R) Xeon(R) Processor @ 2.80GHz

processor\t: 1
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: another name
"""


def test_the_cpu_is_named_by_its_model_from_the_first_processor():
    assert cpu_model(CPUINFO) == "Intel(R) Xeon(R) Processor @ 2.80GHz, family 6, model 106"


def test_without_cpuinfo_the_cpu_is_named_by_what_platform_knows():
    import platform

    assert cpu_model("") == (platform.processor() or platform.machine())


def test_the_results_name_the_cpu_model_they_were_computed_on():
    assert cpu_model() in provenance()["machine"]
