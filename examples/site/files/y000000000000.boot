#!version:1.0.0.1
## Flyingvoice FIP common boot file: every phone reads it unless it has a <mac>.boot.
## Later files override earlier ones.
include:config <y000000000000.cfg>
include:config "fip/site.cfg"
overwrite_mode = 1
