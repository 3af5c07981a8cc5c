-- Rollback of 20261123020000_lead_tables.
DROP TABLE public.lead_audit_log;
DROP TABLE public.messages;
DROP TABLE public.conversations;
DROP TABLE public.leads;
DROP TABLE public.whatsapp_numbers;
DROP TABLE public.api_keys;
DROP TABLE public.app_users;
