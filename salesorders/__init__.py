"""Lead-to-cash between the ERP's sales documents and the CRM's orders and invoices
(../shared/reference/bc-integration.md §7): submitted CRM orders become ERP sales orders, and
order status, shipments and posted invoices flow back; customer statistics go to the CRM."""
