return 'ok:'
