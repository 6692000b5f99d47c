#!version:1.0.0.1
## Flyingvoice FIP MAC-oriented boot file for 00:22:ee:0a:0b:0c (file name in lower case)
include:config <y000000000000.cfg>
include:config <0022ee0a0b0c.cfg>
overwrite_mode = 1
