"""Moving data in and out: clients imported from CSV or XLSX, clients, invoices and payments exported."""
