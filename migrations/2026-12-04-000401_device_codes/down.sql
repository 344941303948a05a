DROP TABLE device_codes;
