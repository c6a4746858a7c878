"""Operating the installation itself, not the business: serving the embedded default, copying
the database to another one, backups. Kernel level: it knows the tables only through the
model metadata, never a capability's models or rules."""
