console.log('sandbox held'
