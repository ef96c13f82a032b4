test_acpi_SRCS := kernel/acpi_tables.c
