#!version:1.0.0.1
## Flyingvoice FIP MAC-oriented boot file for {{MAC}}: later files override earlier ones.
include:config <y000000000000.cfg>
include:config "fip/site.cfg"
include:config <{{mac}}.cfg>
overwrite_mode = 1
