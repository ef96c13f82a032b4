test_acpi_build_SRCS := vmm/acpi_build.c kernel/acpi_tables.c
