-- Rollback of 20261123030200_factors.
DROP TABLE public.factor;
DROP TABLE etl_api.factor_type_template;
DROP TABLE etl_api.operator_phrase;
DROP TYPE public.operator_enum;
